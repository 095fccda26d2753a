//! Measures how fast the simulator serves a full listing (run with --release):
//!
//!     cargo run --release --example page_all -- [users] [latency_ms]
//!
//! Generates the tenant in-process, fetches a token, then pages through all users twice:
//! `$top=999` without signInActivity, and `$top=500` with it (the documented cap).

use std::time::{Duration, Instant};

use graph_sim::{FaultOptions, SimOptions, SimServer, TenantSpec, generate};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let users: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let latency_ms: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);

    let spec = TenantSpec {
        users,
        seed: 7,
        ..Default::default()
    };
    let started = Instant::now();
    let tenant = generate(&spec);
    println!("generated {users} users in {:?}", started.elapsed());

    let options = SimOptions {
        faults: FaultOptions {
            latency: Duration::from_millis(latency_ms),
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = SimServer::start_with_tenant(tenant, options).await?;
    let client = reqwest::Client::new();
    let token: Value = client
        .post(sim.token_url())
        .form(&[
            ("client_id", sim.client_id().to_string()),
            ("client_secret", sim.client_secret()),
            ("scope", "https://graph.microsoft.com/.default".to_string()),
            ("grant_type", "client_credentials".to_string()),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .ok_or("no access_token")?
        .to_string();

    for (label, query) in [
        (
            "$top=999",
            "$select=id,userPrincipalName,mail,displayName,accountEnabled,createdDateTime,assignedLicenses,userType&$top=999",
        ),
        (
            "$top=500 + signInActivity",
            "$select=id,userPrincipalName,mail,displayName,accountEnabled,createdDateTime,assignedLicenses,userType,signInActivity&$top=500",
        ),
    ] {
        let started = Instant::now();
        let mut url = format!("{}/v1.0/users?{query}", sim.base_url());
        let (mut pages, mut count, mut bytes) = (0usize, 0usize, 0usize);
        loop {
            let body = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            bytes += body.len();
            let page: Value = serde_json::from_slice(&body)?;
            pages += 1;
            count += page["value"].as_array().map_or(0, Vec::len);
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
        let elapsed = started.elapsed();
        println!(
            "{label}: {count} users in {pages} pages, {:.1} MB, {elapsed:?} ({:.2} ms/page, client JSON parsing included)",
            bytes as f64 / 1e6,
            elapsed.as_secs_f64() * 1000.0 / pages as f64
        );
    }
    sim.shutdown().await;
    Ok(())
}
