//! Azure Blob storage, Google Cloud Storage and Backblaze B2's native API,
//! each configured from the variables its own tools read:
//!
//! | store | variables |
//! |---|---|
//! | Azure | `AZURE_ACCOUNT_NAME`, `AZURE_ACCOUNT_KEY` or `AZURE_ACCOUNT_SAS`, `AZURE_ENDPOINT_SUFFIX` |
//! | GCS | `GOOGLE_APPLICATION_CREDENTIALS` (a key file) or `GOOGLE_ACCESS_TOKEN` |
//! | B2 | `B2_ACCOUNT_ID`, `B2_ACCOUNT_KEY`, `B2_BUCKET_ID` |
//!
//! Azure and GCS enforce create-if-absent. B2's uploads are atomic but
//! cannot be conditional, so an object is looked up before it is written.

#[cfg(any(feature = "azure", feature = "b2"))]
use super::BackendError;
use super::BackendResult;
use super::opendal_ops::WriteMode;
use super::remote::{self, Remote, Secret};

type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

fn nonempty(var: Var<'_>, name: &str) -> Option<String> {
    var(name).filter(|v| !v.is_empty())
}

#[cfg(any(feature = "azure", feature = "b2"))]
fn required(var: Var<'_>, name: &str, store: &str) -> BackendResult<String> {
    nonempty(var, name)
        .ok_or_else(|| BackendError::Setup(format!("{store} needs {name} to be set")))
}

#[cfg(any(feature = "azure", feature = "gcs"))]
fn secret(var: Var<'_>, name: &str) -> Option<Secret> {
    nonempty(var, name).map(Secret::new)
}

/// Where a cloud repository is and how to sign in: the part of its setup
/// that depends only on the location and the variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloudConfig {
    #[cfg(feature = "azure")]
    Azure {
        container: String,
        root: String,
        endpoint: String,
        account: String,
        key: Option<Secret>,
        sas: Option<Secret>,
    },
    #[cfg(feature = "gcs")]
    Gcs {
        bucket: String,
        root: String,
        credential_path: Option<String>,
        token: Option<Secret>,
    },
    #[cfg(feature = "b2")]
    B2 {
        bucket: String,
        bucket_id: String,
        root: String,
        key_id: String,
        key: Secret,
    },
}

impl CloudConfig {
    /// Azure container `container`, directory `path`.
    ///
    /// # Errors
    /// [`BackendError::Setup`] naming the variable that is missing.
    #[cfg(feature = "azure")]
    pub(crate) fn azure(container: &str, path: &str, var: Var<'_>) -> BackendResult<Self> {
        let account = required(var, "AZURE_ACCOUNT_NAME", "Azure")?;
        let key = secret(var, "AZURE_ACCOUNT_KEY");
        let sas = secret(var, "AZURE_ACCOUNT_SAS");
        if key.is_none() && sas.is_none() {
            return Err(BackendError::Setup(
                "Azure needs AZURE_ACCOUNT_KEY or AZURE_ACCOUNT_SAS to be set".into(),
            ));
        }
        let suffix =
            nonempty(var, "AZURE_ENDPOINT_SUFFIX").unwrap_or_else(|| "core.windows.net".into());
        Ok(Self::Azure {
            container: container.to_owned(),
            root: format!("/{path}"),
            endpoint: format!("https://{account}.blob.{suffix}"),
            account,
            key,
            sas,
        })
    }

    /// GCS bucket `bucket`, directory `path`. Without either variable,
    /// OpenDAL looks for the gcloud defaults and the VM's metadata server.
    ///
    /// # Errors
    /// None today; the signature matches the other stores.
    #[cfg(feature = "gcs")]
    pub(crate) fn gcs(bucket: &str, path: &str, var: Var<'_>) -> BackendResult<Self> {
        Ok(Self::Gcs {
            bucket: bucket.to_owned(),
            root: format!("/{path}"),
            credential_path: nonempty(var, "GOOGLE_APPLICATION_CREDENTIALS"),
            token: secret(var, "GOOGLE_ACCESS_TOKEN"),
        })
    }

    /// B2 bucket `bucket`, directory `path`.
    ///
    /// # Errors
    /// [`BackendError::Setup`] naming the variable that is missing.
    #[cfg(feature = "b2")]
    pub(crate) fn b2(bucket: &str, path: &str, var: Var<'_>) -> BackendResult<Self> {
        Ok(Self::B2 {
            bucket: bucket.to_owned(),
            bucket_id: nonempty(var, "B2_BUCKET_ID").ok_or_else(|| {
                BackendError::Setup(
                    "B2's native API needs B2_BUCKET_ID (shown by `b2 bucket get BUCKET` and in \
                     the web console), or use its S3 API: s3:https://s3.REGION.backblazeb2.com/BUCKET"
                        .into(),
                )
            })?,
            root: format!("/{path}"),
            key_id: required(var, "B2_ACCOUNT_ID", "B2")?,
            key: Secret::new(required(var, "B2_ACCOUNT_KEY", "B2")?),
        })
    }

    /// Connects lazily (no request is made until the first operation).
    ///
    /// # Errors
    /// [`BackendError::Setup`] when OpenDAL refuses the configuration.
    pub(crate) fn connect(&self, location: String) -> BackendResult<Remote> {
        remote::install_http();
        match self {
            #[cfg(feature = "azure")]
            Self::Azure {
                container,
                root,
                endpoint,
                account,
                key,
                sas,
            } => {
                let mut b = opendal::services::Azblob::default()
                    .container(container)
                    .root(root)
                    .endpoint(endpoint)
                    .account_name(account);
                if let Some(k) = key {
                    b = b.account_key(k.expose());
                }
                if let Some(s) = sas {
                    b = b.sas_token(s.expose());
                }
                Remote::new(b, location, WriteMode::Conditional)
            }
            #[cfg(feature = "gcs")]
            Self::Gcs {
                bucket,
                root,
                credential_path,
                token,
            } => {
                let mut b = opendal::services::Gcs::default().bucket(bucket).root(root);
                if let Some(p) = credential_path {
                    b = b.credential_path(p);
                }
                if let Some(t) = token {
                    b = b.token(t.expose().to_owned());
                }
                Remote::new(b, location, WriteMode::Conditional)
            }
            #[cfg(feature = "b2")]
            Self::B2 {
                bucket,
                bucket_id,
                root,
                key_id,
                key,
            } => {
                let b = opendal::services::B2::default()
                    .bucket(bucket)
                    .bucket_id(bucket_id)
                    .root(root)
                    .application_key_id(key_id)
                    .application_key(key.expose());
                Remote::new(b, location, WriteMode::LookThenWrite)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::backend::Backend;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn shown_without(cfg: &CloudConfig, secrets: &[&str]) {
        let shown = format!("{cfg:?}");
        for s in secrets {
            assert!(!shown.contains(s), "{shown}");
        }
    }

    #[test]
    #[cfg(feature = "azure")]
    fn azure_is_configured_from_its_variables() {
        let m = vars(&[
            ("AZURE_ACCOUNT_NAME", "acct"),
            ("AZURE_ACCOUNT_KEY", "a2V5LXNlY3JldA=="),
        ]);
        let c = CloudConfig::azure("backups", "rdr/db", &|k| m.get(k).cloned()).unwrap();
        let CloudConfig::Azure { endpoint, root, .. } = &c else {
            panic!("{c:?}")
        };
        assert_eq!(endpoint, "https://acct.blob.core.windows.net");
        assert_eq!(root, "/rdr/db");
        shown_without(&c, &["a2V5LXNlY3JldA=="]);
        let b = c.connect("azure:backups:/rdr/db".into()).unwrap();
        assert_eq!(b.location(), "azure:backups:/rdr/db");

        let m = vars(&[
            ("AZURE_ACCOUNT_NAME", "acct"),
            ("AZURE_ACCOUNT_SAS", "sv=2024&sig=s1gnature"),
            ("AZURE_ENDPOINT_SUFFIX", "core.chinacloudapi.cn"),
        ]);
        let c = CloudConfig::azure("c", "", &|k| m.get(k).cloned()).unwrap();
        assert!(format!("{c:?}").contains("acct.blob.core.chinacloudapi.cn"));
        shown_without(&c, &["s1gnature"]);
        c.connect("azure:c:/".into()).unwrap();

        let m = vars(&[("AZURE_ACCOUNT_NAME", "acct")]);
        let e = CloudConfig::azure("c", "", &|k| m.get(k).cloned()).unwrap_err();
        assert!(e.to_string().contains("AZURE_ACCOUNT_KEY"), "{e}");
        let e = CloudConfig::azure("c", "", &|_| None).unwrap_err();
        assert!(e.to_string().contains("AZURE_ACCOUNT_NAME"), "{e}");
    }

    #[test]
    #[cfg(feature = "gcs")]
    fn gcs_is_configured_from_its_variables() {
        let m = vars(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", "/etc/rdr/gcs.json"),
            ("GOOGLE_ACCESS_TOKEN", "ya29.t0ken"),
        ]);
        let c = CloudConfig::gcs("bkt", "rdr", &|k| m.get(k).cloned()).unwrap();
        let CloudConfig::Gcs {
            credential_path,
            root,
            ..
        } = &c
        else {
            panic!("{c:?}")
        };
        assert_eq!(credential_path.as_deref(), Some("/etc/rdr/gcs.json"));
        assert_eq!(root, "/rdr");
        shown_without(&c, &["ya29.t0ken"]);
        let c = CloudConfig::gcs("bkt", "", &|_| None).unwrap();
        c.connect("gs:bkt:/".into()).unwrap();
    }

    #[test]
    #[cfg(feature = "b2")]
    fn b2_is_configured_from_its_variables() {
        let all = [
            ("B2_ACCOUNT_ID", "0012ab"),
            ("B2_ACCOUNT_KEY", "K001-secret-key"),
            ("B2_BUCKET_ID", "e1b2c3"),
        ];
        let m = vars(&all);
        let c = CloudConfig::b2("bkt", "srv/rdr", &|k| m.get(k).cloned()).unwrap();
        let CloudConfig::B2 {
            bucket_id, root, ..
        } = &c
        else {
            panic!("{c:?}")
        };
        assert_eq!((bucket_id.as_str(), root.as_str()), ("e1b2c3", "/srv/rdr"));
        shown_without(&c, &["K001-secret-key"]);
        c.connect("b2:bkt:srv/rdr".into()).unwrap();
        for missing in ["B2_ACCOUNT_ID", "B2_ACCOUNT_KEY", "B2_BUCKET_ID"] {
            let m: HashMap<_, _> = m
                .iter()
                .filter(|(k, _)| *k != missing)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let e = CloudConfig::b2("bkt", "", &|k| m.get(k).cloned()).unwrap_err();
            assert!(e.to_string().contains(missing), "{e}");
        }
    }
}
