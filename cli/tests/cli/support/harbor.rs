//! The Harbor STAND-IN (testdata/harbor-standin.sh): a thin front answering Harbor's v2.0 API,
//! token service and permission checks, in front of a real distribution registry that stores
//! every byte. Harbor itself cannot run on this machine kind (docs/registries.md).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ok, run, stdout};

/// An admin, a robot that may push and pull but not create projects, and a pull-only robot;
/// the `$` in robot names is Harbor's.
pub const ADMIN: (&str, &str) = ("admin", "Harbor12345");
pub const PUSHER: (&str, &str) = ("robot$ferry-push", "push$ecret");
pub const PULLER: (&str, &str) = ("robot$ferry-pull", "pull$ecret");

pub struct HarborStandIn {
    pub address: String,
    dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/harbor-standin.sh")
}

impl HarborStandIn {
    /// Started with these flag files (`missing-project-401`, `referrers`) in its directory.
    pub fn start(flags: &[&str]) -> Self {
        Self::start_with(flags, &[])
    }

    /// With more options for testdata/harbor-standin.sh (`--tls`, `--address IP`).
    pub fn start_with(flags: &[&str], options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let accounts = serde_json::json!([
            {"name": ADMIN.0, "password": ADMIN.1, "admin": true},
            {"name": PUSHER.0, "password": PUSHER.1, "create_projects": false,
             "permissions": {"*": ["pull", "push"]}},
            {"name": PULLER.0, "password": PULLER.1, "create_projects": false,
             "permissions": {"*": ["pull"]}},
        ]);
        std::fs::write(dir.path().join("accounts.json"), accounts.to_string()).unwrap();
        std::fs::write(dir.path().join("state.json"), r#"{"projects": []}"#).unwrap();
        for flag in flags {
            std::fs::write(dir.path().join(flag), "").unwrap();
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = ok(run(Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .args(options)));
        let address = stdout(&output).trim().to_owned();
        assert!(address.ends_with(&format!(":{port}")), "{address}");
        Self { address, dir }
    }

    /// A file holding `password`, for `--registry-auth HOST=USER:FILE`.
    pub fn password_file(&self, account: (&str, &str)) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("{}.password", account.0.replace('$', "_")));
        std::fs::write(&path, account.1).unwrap();
        path
    }

    /// `--registry-auth` for `account`.
    pub fn auth_flag(&self, account: (&str, &str)) -> String {
        format!(
            "{}={}:{}",
            self.address,
            account.0,
            self.password_file(account).display()
        )
    }

    /// The throwaway CA of a `--tls` stand-in.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Every request so far: `METHOD PATH ACCOUNT STATUS` a line.
    pub fn requests(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.log")).unwrap_or_default()
    }

    /// The projects it holds, by name, and whether each is public.
    pub fn projects(&self) -> Vec<(String, bool)> {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.path().join("state.json")).unwrap())
                .unwrap();
        let mut out: Vec<(String, bool)> = state["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["public"] == true || p["metadata"]["public"] == "true",
                )
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for HarborStandIn {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
