//! S3-compatible object storage (AWS, R2, MinIO, Ceph, Garage, B2's S3
//! API) through OpenDAL's s3 service.
//!
//! Credentials come from the variables the AWS tools read
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_PROFILE` with the `~/.aws`
//! files), never from the location. Some servers (rclone's, older MinIO)
//! accept a conditional create without enforcing it, so a new object is
//! first looked up, then written with `If-None-Match: *`: what is stored is
//! never overwritten by rdr.
//!
//! Every upload carries a checksum the server verifies before it stores
//! the object: `Content-MD5` by default (every S3 server checks it), or
//! `x-amz-checksum-crc32c` with `RDR_S3_CHECKSUM=crc32c` (hardware CRC,
//! measured 1.4 s less CPU per GiB uploaded; AWS, MinIO and others verify
//! it, but a server that does not know the header, such as rclone's,
//! ignores it silently).

use super::opendal_ops::WriteMode;
use super::remote::{self, Remote, Secret};
use super::{BackendError, BackendResult};
use crate::location::Endpoint;

/// How to reach a bucket: from the location plus the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Config {
    /// `http[s]://host[:port]`; `None` is AWS (from the region).
    pub(crate) endpoint: Option<String>,
    pub(crate) bucket: String,
    pub(crate) prefix: String,
    pub(crate) region: String,
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<Secret>,
    pub(crate) session_token: Option<Secret>,
    pub(crate) profile: Option<String>,
    /// `md5` or `crc32c` (OpenDAL's names).
    pub(crate) checksum: &'static str,
}

impl S3Config {
    /// The configuration of a location, with `var` looking up environment
    /// variables (tests pass a map).
    ///
    /// # Errors
    /// [`BackendError::Setup`] when only one of the key pair is set, or
    /// `RDR_S3_CHECKSUM` is neither `md5` nor `crc32c`.
    pub(crate) fn new(
        endpoint: Option<&Endpoint>,
        bucket: &str,
        prefix: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> BackendResult<Self> {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
        let access_key_id = nonempty("AWS_ACCESS_KEY_ID");
        let secret_access_key = nonempty("AWS_SECRET_ACCESS_KEY").map(Secret::new);
        if access_key_id.is_some() != secret_access_key.is_some() {
            return Err(BackendError::Setup(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together".into(),
            ));
        }
        let checksum = match nonempty("RDR_S3_CHECKSUM").as_deref() {
            None | Some("md5") => "md5",
            Some("crc32c") => "crc32c",
            Some(other) => {
                return Err(BackendError::Setup(format!(
                    "RDR_S3_CHECKSUM={other:?}: the upload checksum is md5 (the default) or crc32c"
                )));
            }
        };
        Ok(Self {
            checksum,
            endpoint: endpoint.map(ToString::to_string),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            region: nonempty("AWS_REGION")
                .or_else(|| nonempty("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id,
            secret_access_key,
            session_token: nonempty("AWS_SESSION_TOKEN").map(Secret::new),
            profile: nonempty("AWS_PROFILE"),
        })
    }

    fn builder(&self) -> opendal::services::S3 {
        // a checksum on every upload: the server checks what it received
        let mut b = opendal::services::S3::default()
            .checksum_algorithm(self.checksum)
            .bucket(&self.bucket)
            .root(&format!("/{}", self.prefix))
            .region(&self.region);
        b = match &self.endpoint {
            Some(e) => b.endpoint(e),
            // AWS serves new buckets by virtual-host name only
            None => b.enable_virtual_host_style(),
        };
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            // explicit keys: do not go looking in ~/.aws or instance metadata
            b = b
                .access_key_id(id)
                .secret_access_key(secret.expose())
                .disable_config_load()
                .disable_ec2_metadata();
            if let Some(t) = &self.session_token {
                b = b.session_token(t.expose());
            }
        } else if let Some(p) = &self.profile {
            b = b.profile(p);
        }
        b
    }
}

/// A bucket (and key prefix) on S3-compatible storage; lazily connected
/// (no request is made until the first operation).
///
/// # Errors
/// [`BackendError::Setup`] when OpenDAL refuses the configuration.
pub(crate) fn connect(cfg: &S3Config, location: String) -> BackendResult<Remote> {
    remote::install_http();
    Remote::new(cfg.builder(), location, WriteMode::LookThenConditional)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::backend::Backend;

    fn cfg(vars: &[(&str, &str)], endpoint: Option<&Endpoint>) -> BackendResult<S3Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        S3Config::new(endpoint, "bkt", "pre/fix", &|k| map.get(k).cloned())
    }

    #[test]
    fn configuration_comes_from_the_aws_variables() {
        let c = cfg(
            &[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
                ("AWS_SESSION_TOKEN", "tok"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(c.session_token.as_ref().map(Secret::expose), Some("tok"));
        assert_eq!(c.endpoint, None);
        // AWS_REGION wins over AWS_DEFAULT_REGION; the default is us-east-1
        let c = cfg(&[("AWS_REGION", "a"), ("AWS_DEFAULT_REGION", "b")], None).unwrap();
        assert_eq!(c.region, "a");
        assert_eq!(cfg(&[], None).unwrap().region, "us-east-1");
        let ep = Endpoint {
            tls: false,
            host: "::1".into(),
            port: Some(9000),
        };
        let c = cfg(&[("AWS_PROFILE", "backup")], Some(&ep)).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://[::1]:9000"));
        assert_eq!(c.profile.as_deref(), Some("backup"));
        assert!(cfg(&[("AWS_ACCESS_KEY_ID", "AKID")], None).is_err());
    }

    #[test]
    fn the_upload_checksum_is_md5_unless_crc32c_is_asked_for() {
        assert_eq!(cfg(&[], None).unwrap().checksum, "md5");
        let c = cfg(&[("RDR_S3_CHECKSUM", "crc32c")], None).unwrap();
        assert_eq!(c.checksum, "crc32c");
        connect(&c, "s3:bkt".into()).unwrap();
        let e = cfg(&[("RDR_S3_CHECKSUM", "sha1")], None).unwrap_err();
        assert!(e.to_string().contains("md5 (the default) or crc32c"), "{e}");
    }

    #[test]
    fn secrets_are_never_shown() {
        let c = cfg(
            &[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value"),
                ("AWS_SESSION_TOKEN", "t0ken-value"),
            ],
            None,
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("t0ken-value"));
        let b = connect(&c, "s3:bkt/pre/fix".into()).unwrap();
        assert_eq!(b.location(), "s3:bkt/pre/fix");
    }
}
