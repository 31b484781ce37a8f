//! WebDAV (nginx's dav modules, Apache mod_dav, rclone, Nextcloud) through
//! OpenDAL's webdav service.
//!
//! Credentials come from `RDR_WEBDAV_USERNAME` and `RDR_WEBDAV_PASSWORD`
//! (basic authentication) or `RDR_WEBDAV_TOKEN` (a bearer token), never
//! from the location. WebDAV has no create-if-absent, and servers differ
//! in whether a PUT cut off leaves a partial file, so a new object is
//! written to `tmp/` and moved into place once it is known to be absent
//! ([`WriteMode::ViaTmp`]).

use super::opendal_ops::WriteMode;
use super::remote::{self, Remote, Secret};
use super::{BackendError, BackendResult};
use crate::location::Endpoint;

/// How to reach a WebDAV collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebDavConfig {
    pub(crate) endpoint: String,
    pub(crate) root: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) token: Option<Secret>,
}

impl WebDavConfig {
    /// The configuration of a location, with `var` looking up variables.
    ///
    /// # Errors
    /// [`BackendError::Setup`] when a password is set without a user name.
    pub(crate) fn new(
        endpoint: &Endpoint,
        path: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> BackendResult<Self> {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
        let username = nonempty("RDR_WEBDAV_USERNAME");
        let password = nonempty("RDR_WEBDAV_PASSWORD").map(Secret::new);
        if password.is_some() && username.is_none() {
            return Err(BackendError::Setup(
                "RDR_WEBDAV_PASSWORD is set without RDR_WEBDAV_USERNAME".into(),
            ));
        }
        Ok(Self {
            endpoint: endpoint.to_string(),
            root: format!("/{path}"),
            username,
            password,
            token: nonempty("RDR_WEBDAV_TOKEN").map(Secret::new),
        })
    }

    fn builder(&self) -> opendal::services::Webdav {
        let mut b = opendal::services::Webdav::default()
            .endpoint(&self.endpoint)
            .root(&self.root);
        if let Some(u) = &self.username {
            b = b.username(u);
        }
        if let Some(p) = &self.password {
            b = b.password(p.expose());
        }
        if let Some(t) = &self.token {
            b = b.token(t.expose());
        }
        b
    }
}

/// A collection on a WebDAV server; lazily connected.
///
/// # Errors
/// [`BackendError::Setup`] when OpenDAL refuses the configuration.
pub(crate) fn connect(cfg: &WebDavConfig, location: String) -> BackendResult<Remote> {
    remote::install_http();
    Remote::new(cfg.builder(), location, WriteMode::ViaTmp)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> BackendResult<WebDavConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let ep = Endpoint {
            tls: true,
            host: "dav.example.net".into(),
            port: Some(8443),
        };
        WebDavConfig::new(&ep, "backups/rdr", &|k| map.get(k).cloned())
    }

    #[test]
    fn configuration_comes_from_the_location_and_the_variables() {
        let c = cfg(&[
            ("RDR_WEBDAV_USERNAME", "ops"),
            ("RDR_WEBDAV_PASSWORD", "pa55-word"),
        ])
        .unwrap();
        assert_eq!(c.endpoint, "https://dav.example.net:8443");
        assert_eq!(c.root, "/backups/rdr");
        assert_eq!(c.username.as_deref(), Some("ops"));
        assert!(!format!("{c:?}").contains("pa55-word"));
        let c = cfg(&[("RDR_WEBDAV_TOKEN", "t0k3n")]).unwrap();
        assert!(c.token.is_some() && c.username.is_none());
        assert!(!format!("{c:?}").contains("t0k3n"));
        assert!(cfg(&[("RDR_WEBDAV_PASSWORD", "x")]).is_err());
        assert!(connect(&cfg(&[]).unwrap(), "webdav:x".into()).is_ok());
    }
}
