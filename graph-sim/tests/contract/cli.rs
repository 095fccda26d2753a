use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_one_json_line_and_serves() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_graph-sim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--users",
                "300",
                "--seed",
                "7",
                "--no-audit-log-permission",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn graph-sim"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(line.trim()).expect("one JSON line");
    let mut keys: Vec<_> = info.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "apiClientId",
            "baseUrl",
            "clientId",
            "clientSecret",
            "domain",
            "issuer",
            "spaClientId",
            "tenantId"
        ]
    );
    assert_eq!(
        info["issuer"],
        format!(
            "{}/{}/v2.0",
            info["baseUrl"].as_str().unwrap(),
            info["tenantId"].as_str().unwrap()
        )
    );
    let base = info["baseUrl"].as_str().unwrap();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"));
    assert_eq!(info["domain"], "contoso-7.onmicrosoft.com");

    // Token by domain, then page all users.
    let resp = client()
        .post(format!(
            "{base}/{}/oauth2/v2.0/token",
            info["domain"].as_str().unwrap()
        ))
        .form(&[
            ("client_id", info["clientId"].as_str().unwrap()),
            ("client_secret", info["clientSecret"].as_str().unwrap()),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let tok: Value = resp.json().await.unwrap();
    let t = tok["access_token"].as_str().unwrap();
    let (items, pages) = collect_pages(&format!("{base}/v1.0/users?$top=100"), t).await;
    assert_eq!((items.len(), pages), (300, 3));
    // The flag took effect.
    let r = get_with(
        &format!("{base}/v1.0/users?$select=signInActivity"),
        Some(t),
        &[],
    )
    .await;
    assert_eq!(
        r.body["error"]["code"],
        "Authentication_MSGraphPermissionMissing"
    );

    // Nothing else on stdout.
    let _ = child.0.kill();
    let _ = child.0.wait();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");
}

#[test]
fn dump_and_load_tenant_file() {
    let dir = std::env::temp_dir().join(format!("graph-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json");
    let status = Command::new(env!("CARGO_BIN_EXE_graph-sim"))
        .args(["--users", "25", "--seed", "3", "--dump-tenant"])
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let tenant = graph_sim::Tenant::load(&path).unwrap();
    assert_eq!(tenant.users.len(), 25);
    assert_eq!(tenant.domain(), "contoso-3.onmicrosoft.com");

    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_graph-sim"))
            .args(["--listen", "127.0.0.1:0", "--tenant-file"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(info["tenantId"], tenant.tenant_id.to_string());
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn fault_and_tenant_flags() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_graph-sim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--users",
                "50",
                "--seed",
                "9",
                "--throttle-rate",
                "1",
                "--retry-after-secs",
                "2.5",
                "--latency-ms",
                "5",
                "--token-ttl-secs",
                "60",
                "--no-premium",
                "--no-user-read-permission",
                "--no-organization-read-permission",
                "--grant",
                "LicenseAssignment.ReadWrite.All",
                "--write-limit",
                "7",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(line.trim()).unwrap();
    let base = info["baseUrl"].as_str().unwrap();
    let resp = client()
        .post(format!(
            "{base}/{}/oauth2/v2.0/token",
            info["tenantId"].as_str().unwrap()
        ))
        .form(&[
            ("client_id", info["clientId"].as_str().unwrap()),
            ("client_secret", info["clientSecret"].as_str().unwrap()),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    let tok: Value = resp.json().await.unwrap();
    assert_eq!(tok["expires_in"], 60);
    let t = tok["access_token"].as_str().unwrap();
    let r = get_with(&format!("{base}/v1.0/users"), Some(t), &[]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "2.5");
    let tenant = get_with(&format!("{base}/_sim/tenant"), None, &[])
        .await
        .body;
    assert_eq!(tenant["premium"], false);
    assert_eq!(
        tenant["roles"],
        serde_json::json!(["AuditLog.Read.All", "LicenseAssignment.ReadWrite.All"])
    );
    assert_eq!(claims_of(t)["roles"], tenant["roles"]);
    let limits = get_with(&format!("{base}/_sim/limits"), None, &[])
        .await
        .body;
    assert_eq!(limits["perAppAndTenant"]["requests"], 7);
    let stats = get_with(&format!("{base}/_sim/stats"), None, &[])
        .await
        .body;
    assert_eq!(stats["throttled"], 1);
    assert_eq!(stats["tokensIssued"], 1);
}
