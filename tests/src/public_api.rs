//! The public API of rdr-core as a sorted list of lines, computed from its
//! source with `syn` on the stable toolchain (rustdoc's JSON needs nightly,
//! and its format changes with it).
//!
//! What is listed: every item reachable from the crate root through `pub`
//! modules and `pub use`, with default features (`cfg(test)` and the
//! `internals` feature are off, `unix`/`linux` on); for each type its public
//! fields or variants, its `pub` inherent methods and constants, its derived
//! and implemented traits; trait methods; function signatures. A type the
//! API names but does not export is listed as `unnameable`, so such a leak
//! shows in review too.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{Attribute, Fields, ImplItem, Item, Meta, Token, TraitItem, UseTree, Visibility};

/// One module: its path from the root, and its items (cfg-filtered).
struct Module {
    items: Vec<Item>,
}

/// The parsed crate: modules by path (`["ops", "backup"]`).
struct Crate {
    modules: HashMap<Vec<String>, Module>,
}

/// Lines of the public API of the crate whose `lib.rs` is at `root`.
///
/// # Panics
/// On source that does not parse (the compiler would have said so first).
#[must_use]
pub fn listing(crate_name: &str, root: &Path) -> Vec<String> {
    let mut krate = Crate {
        modules: HashMap::new(),
    };
    load(&mut krate, Vec::new(), &root.join("lib.rs"), root);
    let mut out = Lister {
        krate: &krate,
        lines: BTreeSet::new(),
        named: BTreeSet::new(),
        mentioned: BTreeSet::new(),
    };
    out.module(&[], crate_name);
    let defined: BTreeSet<String> = krate
        .modules
        .values()
        .flat_map(|m| m.items.iter().filter_map(type_name))
        .collect();
    let mut lines = out.lines;
    for t in out.mentioned.difference(&out.named) {
        if defined.contains(t) {
            lines.insert(format!(
                "unnameable type {t} (used by the API, not exported)"
            ));
        }
    }
    lines.into_iter().collect()
}

fn load(krate: &mut Crate, path: Vec<String>, file: &Path, dir: &Path) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    add_items(krate, path, parsed.items, dir);
}

fn add_items(krate: &mut Crate, path: Vec<String>, items: Vec<Item>, dir: &Path) {
    let mut kept = Vec::new();
    for item in items {
        if !enabled(attrs(&item)) {
            continue;
        }
        if let Item::Mod(m) = &item {
            let name = m.ident.to_string();
            let mut sub = path.clone();
            sub.push(name.clone());
            let sub_dir = dir.join(&name);
            if let Some((_, inline)) = &m.content {
                add_items(krate, sub, inline.clone(), &sub_dir);
            } else {
                let file = path_attr(&m.attrs).map_or_else(
                    || {
                        let flat = dir.join(format!("{name}.rs"));
                        if flat.exists() {
                            flat
                        } else {
                            sub_dir.join("mod.rs")
                        }
                    },
                    |p| dir.join(p),
                );
                load(krate, sub, &file, &sub_dir);
            }
        }
        kept.push(item);
    }
    krate.modules.insert(path, Module { items: kept });
}

fn path_attr(attrs: &[Attribute]) -> Option<PathBuf> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("path"))
        .and_then(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(PathBuf::from(s.value())),
                _ => None,
            },
            _ => None,
        })
}

fn attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        _ => &[],
    }
}

/// Whether every `#[cfg]` holds with default features on Linux, not testing.
fn enabled(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("cfg")).all(|a| {
        let metas = a
            .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .expect("cfg predicate");
        metas.iter().all(cfg_holds)
    })
}

fn cfg_holds(m: &Meta) -> bool {
    match m {
        Meta::Path(p) => p.is_ident("unix"),
        Meta::NameValue(nv) => {
            let value = nv.value.to_token_stream().to_string();
            nv.path.is_ident("target_os") && value == "\"linux\""
        }
        Meta::List(l) => {
            let inner = l
                .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .expect("cfg list");
            if l.path.is_ident("any") {
                inner.iter().any(cfg_holds)
            } else if l.path.is_ident("all") {
                inner.iter().all(cfg_holds)
            } else if l.path.is_ident("not") {
                !inner.iter().all(cfg_holds)
            } else {
                false
            }
        }
    }
}

fn type_name(item: &Item) -> Option<String> {
    match item {
        Item::Struct(s) => Some(s.ident.to_string()),
        Item::Enum(e) => Some(e.ident.to_string()),
        Item::Trait(t) => Some(t.ident.to_string()),
        Item::Type(t) => Some(t.ident.to_string()),
        _ => None,
    }
}

/// Token text with the spaces `quote` puts everywhere taken out.
fn tidy(tokens: &impl ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" ,", ","),
        (" ;", ";"),
        (" :: ", "::"),
        (":: ", "::"),
        (" ::", "::"),
        (" : ", ": "),
        ("( ", "("),
        (" )", ")"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        ("& ", "&"),
        ("[ ", "["),
        (" ]", "]"),
        ("* const", "*const"),
        ("* mut", "*mut"),
        (" ?", "?"),
        (" (", "("),
        (",)", ")"),
        (", }", " }"),
    ] {
        while s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s.replace("->", " -> ").replace("  ", " ")
}

fn is_pub(v: &Visibility) -> bool {
    matches!(v, Visibility::Public(_))
}

struct Lister<'a> {
    krate: &'a Crate,
    lines: BTreeSet<String>,
    /// Types exported under some path (by their definition's name).
    named: BTreeSet<String>,
    /// Capitalized identifiers that exported signatures use.
    mentioned: BTreeSet<String>,
}

impl Lister<'_> {
    fn line(&mut self, text: String) {
        self.mention(&text);
        self.lines.insert(text);
    }

    /// Notes the capitalized words of a signature (type names, roughly).
    fn mention(&mut self, text: &str) {
        for word in text.split(|c: char| !c.is_alphanumeric() && c != '_') {
            if word.starts_with(|c: char| c.is_ascii_uppercase()) && word != "Self" {
                self.mentioned.insert(word.to_owned());
            }
        }
    }

    fn module(&mut self, path: &[String], shown: &str) {
        let Some(m) = self.krate.modules.get(path) else {
            return;
        };
        for item in &m.items {
            match item {
                Item::Mod(sub) if is_pub(&sub.vis) => {
                    let mut p = path.to_vec();
                    p.push(sub.ident.to_string());
                    let name = format!("{shown}::{}", sub.ident);
                    self.lines.insert(format!("pub mod {name}"));
                    self.module(&p, &name);
                }
                Item::Use(u) if is_pub(&u.vis) => {
                    let mut leaves = Vec::new();
                    use_leaves(&u.tree, Vec::new(), &mut leaves);
                    for (target, alias) in leaves {
                        self.reexport(path, &target, &format!("{shown}::{alias}"));
                    }
                }
                other if item_is_pub(other) => self.item(other, shown),
                _ => {}
            }
        }
    }

    /// A `pub use` of `target` (as written in module `from`) shown as `name`.
    fn reexport(&mut self, from: &[String], target: &[String], name: &str) {
        match self.resolve(from, target) {
            Some((_, Some(item))) => {
                let leaf = name.rsplit("::").next().unwrap_or(name).to_owned();
                let parent = &name[..name.len() - leaf.len() - 2];
                self.item(&item, parent);
            }
            Some((module, None)) => {
                self.lines.insert(format!("pub mod {name}"));
                self.module(&module, name);
            }
            None => {
                self.lines
                    .insert(format!("pub use {name} = {}", target.join("::")));
            }
        }
    }

    /// The module and item a path names, following re-exports; `None` for
    /// outside crates.
    fn resolve(&self, from: &[String], target: &[String]) -> Option<(Vec<String>, Option<Item>)> {
        self.resolve_in(from, target, 0)
    }

    fn resolve_in(
        &self,
        from: &[String],
        target: &[String],
        depth: usize,
    ) -> Option<(Vec<String>, Option<Item>)> {
        // a re-export of an outside crate (`pub use jiff;`) names itself
        if depth > 16 {
            return None;
        }
        let mut module: Vec<String> = from.to_vec();
        let mut rest = target;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                module.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                module.pop();
                rest = &rest[1..];
            }
            _ => {}
        }
        for (i, seg) in rest.iter().enumerate() {
            let mut sub = module.clone();
            sub.push(seg.clone());
            let last = i + 1 == rest.len();
            if self.krate.modules.contains_key(&sub) {
                module = sub;
                if last {
                    return Some((module, None));
                }
                continue;
            }
            let m = self.krate.modules.get(&module)?;
            for item in &m.items {
                if let Item::Use(u) = item {
                    let mut leaves = Vec::new();
                    use_leaves(&u.tree, Vec::new(), &mut leaves);
                    if let Some((t, _)) = leaves.into_iter().find(|(_, a)| a == seg) {
                        let mut full = t;
                        full.extend(rest[i + 1..].iter().cloned());
                        return self.resolve_in(&module, &full, depth + 1);
                    }
                }
            }
            if last {
                let found = m
                    .items
                    .iter()
                    .find(|it| item_name(it).as_deref() == Some(seg))?;
                return Some((module, Some(found.clone())));
            }
            return None;
        }
        Some((module, None))
    }

    fn item(&mut self, item: &Item, parent: &str) {
        let Some(name) = item_name(item) else { return };
        let path = format!("{parent}::{name}");
        match item {
            Item::Struct(s) => {
                self.named.insert(s.ident.to_string());
                self.line(format!("pub struct {path}{}", tidy(&s.generics)));
                for (i, f) in s.fields.iter().enumerate() {
                    if is_pub(&f.vis) {
                        let field = f.ident.as_ref().map_or(i.to_string(), ToString::to_string);
                        self.line(format!("pub {path}::{field}: {}", tidy(&f.ty)));
                    }
                }
                self.derives(&s.attrs, &path);
                self.impls(&s.ident.to_string(), &path);
            }
            Item::Enum(e) => {
                self.named.insert(e.ident.to_string());
                self.line(format!("pub enum {path}{}", tidy(&e.generics)));
                for v in &e.variants {
                    let mut fields = v.fields.clone();
                    fields.iter_mut().for_each(|f| f.attrs.clear());
                    let fields = match &fields {
                        Fields::Unit => String::new(),
                        f => tidy(f),
                    };
                    self.mention(&fields);
                    self.lines.insert(format!("{path}::{}{fields}", v.ident));
                }
                self.derives(&e.attrs, &path);
                self.impls(&e.ident.to_string(), &path);
            }
            Item::Trait(t) => {
                self.named.insert(t.ident.to_string());
                self.line(format!("pub trait {path}{}", tidy(&t.generics)));
                for ti in &t.items {
                    if let TraitItem::Fn(f) = ti {
                        self.line(format!("{path}::{}", tidy(&f.sig)));
                    }
                }
                self.impls(&t.ident.to_string(), &path);
            }
            Item::Fn(f) => self.line(format!("pub {}", tidy(&f.sig)).replacen(
                &format!("fn {}", f.sig.ident),
                &format!("fn {path}"),
                1,
            )),
            Item::Type(t) => {
                self.named.insert(t.ident.to_string());
                self.line(format!(
                    "pub type {path}{} = {}",
                    tidy(&t.generics),
                    tidy(&t.ty)
                ));
            }
            Item::Const(c) => self.line(format!("pub const {path}: {}", tidy(&c.ty))),
            Item::Static(s) => self.line(format!("pub static {path}: {}", tidy(&s.ty))),
            _ => {}
        }
    }

    fn derives(&mut self, attrs: &[Attribute], path: &str) {
        for a in attrs.iter().filter(|a| a.path().is_ident("derive")) {
            let list = a
                .parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .expect("derive list");
            for p in list {
                let t = p
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                self.lines.insert(format!("impl {t} for {path}"));
            }
        }
    }

    /// Every impl block in the crate whose self type is named `ident`.
    fn impls(&mut self, ident: &str, path: &str) {
        let krate = self.krate;
        for m in krate.modules.values() {
            for item in &m.items {
                let Item::Impl(imp) = item else { continue };
                let syn::Type::Path(tp) = &*imp.self_ty else {
                    continue;
                };
                if tp
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .as_deref()
                    != Some(ident)
                {
                    continue;
                }
                if let Some((_, tr, _)) = &imp.trait_ {
                    // a crate-private trait's impls are not part of the API
                    let name = tr.segments.last().map(|s| s.ident.to_string());
                    if !name.is_some_and(|n| private_traits(krate).contains(&n)) {
                        self.line(format!("impl {} for {path}", tidy(tr)));
                    }
                    continue;
                }
                for ii in &imp.items {
                    match ii {
                        ImplItem::Fn(f) if is_pub(&f.vis) && enabled(&f.attrs) => {
                            let sig = tidy(&f.sig).replacen(
                                &format!("fn {}", f.sig.ident),
                                &format!("fn {path}::{}", f.sig.ident),
                                1,
                            );
                            self.line(format!("pub {sig}"));
                        }
                        ImplItem::Const(c) if is_pub(&c.vis) && enabled(&c.attrs) => {
                            self.line(format!("pub const {path}::{}: {}", c.ident, tidy(&c.ty)));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Traits defined in the crate with a restricted visibility (`pub(crate)`).
fn private_traits(krate: &Crate) -> BTreeSet<String> {
    krate
        .modules
        .values()
        .flat_map(|m| &m.items)
        .filter_map(|i| match i {
            Item::Trait(t) if !is_pub(&t.vis) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect()
}

fn item_is_pub(item: &Item) -> bool {
    match item {
        Item::Struct(i) => is_pub(&i.vis),
        Item::Enum(i) => is_pub(&i.vis),
        Item::Trait(i) => is_pub(&i.vis),
        Item::Fn(i) => is_pub(&i.vis),
        Item::Type(i) => is_pub(&i.vis),
        Item::Const(i) => is_pub(&i.vis),
        Item::Static(i) => is_pub(&i.vis),
        _ => false,
    }
}

fn item_name(item: &Item) -> Option<String> {
    match item {
        Item::Struct(s) => Some(s.ident.to_string()),
        Item::Enum(e) => Some(e.ident.to_string()),
        Item::Trait(t) => Some(t.ident.to_string()),
        Item::Fn(f) => Some(f.sig.ident.to_string()),
        Item::Type(t) => Some(t.ident.to_string()),
        Item::Const(c) => Some(c.ident.to_string()),
        Item::Static(s) => Some(s.ident.to_string()),
        Item::Mod(m) => Some(m.ident.to_string()),
        _ => None,
    }
}

/// Leaves of a use tree: (target path, name it is known by).
fn use_leaves(tree: &UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        UseTree::Path(p) => {
            let mut next = prefix;
            next.push(p.ident.to_string());
            use_leaves(&p.tree, next, out);
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut full = prefix.clone();
            if name == "self" {
                let alias = prefix.last().cloned().unwrap_or_default();
                out.push((full, alias));
            } else {
                full.push(name.clone());
                out.push((full, name));
            }
        }
        UseTree::Rename(r) => {
            let mut full = prefix;
            full.push(r.ident.to_string());
            out.push((full, r.rename.to_string()));
        }
        UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix.clone(), out);
            }
        }
        UseTree::Glob(_) => out.push((prefix, "*".to_owned())),
    }
}
