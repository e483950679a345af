//! The synthetic world the load runs in: one municipality, one provider, many contracts, and the
//! pre-signed report submissions (one original report per contract and period).

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Actor, Body, ContractRef, SignedStatement, Statement};
use insyn_ledger::hash::sha256;
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::SigningKey;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::server::{Server, ServerSpec};

/// Stockholm, a real SCB code.
const MUNICIPALITY: &str = "0180";
/// A synthetic organisation number with a valid Luhn check digit.
const PROVIDER: &str = "5599123451";

/// The registered world.
pub(crate) struct World {
    municipality: MunicipalityCode,
    provider: OrgNumber,
    provider_key: SigningKey,
    contracts: Vec<ContractRef>,
    periods: Vec<Period>,
}

/// The JSON body of a submission, built by hand (base64 needs no escaping).
pub(crate) fn body(signed: &SignedStatement, payload: Option<&[u8]>) -> Vec<u8> {
    let payload = match payload {
        Some(p) => format!("\"{}\"", B64.encode(p)),
        None => "null".to_owned(),
    };
    format!(
        "{{\"statement\":\"{}\",\"signature\":\"{}\",\"payload\":{payload}}}",
        B64.encode(signed.statement().encode()),
        B64.encode(signed.signature().to_bytes()),
    )
    .into_bytes()
}

fn sign(
    key: &SigningKey,
    actor: Actor,
    body: Body,
    payload: Option<&[u8]>,
) -> Result<SignedStatement> {
    Ok(
        Statement::new(actor, key.key_id(), body, payload.map(sha256))
            .context("statement")?
            .sign(key),
    )
}

/// Every month from 2000-01 to 2026-10: periods that have begun on any clock this runs on.
fn periods() -> Result<Vec<Period>> {
    let mut p = Period::new(2000, 1).context("period")?;
    let last = Period::new(2026, 10).context("period")?;
    let mut out = vec![p];
    while p != last {
        p = p.next();
        out.push(p);
    }
    Ok(out)
}

async fn submit_setup(http: reqwest::Client, url: String, body: Vec<u8>) -> Result<()> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    if !status.is_success() {
        bail!(
            "setup submission refused ({status}): {}",
            r.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

impl World {
    /// Registers the municipality (through `insyn admin`), the provider, `contracts` contracts
    /// and the provider's key, through the real API, `concurrency` submissions at a time.
    pub(crate) async fn register(
        spec: &ServerSpec,
        server: &Server,
        contracts: usize,
        concurrency: usize,
    ) -> Result<Self> {
        let municipality: MunicipalityCode = MUNICIPALITY.parse().context("municipality")?;
        let provider: OrgNumber = PROVIDER.parse().context("provider")?;
        let municipality_key = SigningKey::generate();
        let provider_key = SigningKey::generate();
        spec.add_municipality(
            MUNICIPALITY,
            &hex::encode(municipality_key.public_key().to_bytes()),
        )?;
        let http = reqwest::Client::new();
        let m = Actor::Municipality(municipality);
        submit_setup(
            http.clone(),
            server.at("/api/v1/entries"),
            body(
                &sign(
                    &municipality_key,
                    m.clone(),
                    Body::ProviderRegistered { provider },
                    None,
                )?,
                None,
            ),
        )
        .await?;
        submit_setup(
            http.clone(),
            server.at("/api/v1/entries"),
            body(
                &sign(
                    &municipality_key,
                    m.clone(),
                    Body::KeyAdded {
                        subject: Actor::Provider(provider),
                        public_key: provider_key.public_key().to_bytes(),
                    },
                    None,
                )?,
                None,
            ),
        )
        .await?;

        let periods = periods()?;
        let (first, last) = (periods[0], periods[periods.len() - 1]);
        let contract_refs = (0..contracts)
            .map(|k| {
                Ok(ContractRef {
                    municipality,
                    reference: format!("LOAD-{k:06}").parse().context("reference")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let bodies = contract_refs
            .par_iter()
            .map(|contract| {
                sign(
                    &municipality_key,
                    m.clone(),
                    Body::ContractRegistered {
                        contract: contract.clone(),
                        provider,
                        first,
                        last,
                        budget: Sek(10_000_000),
                    },
                    None,
                )
                .map(|s| body(&s, None))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut queue = bodies.into_iter();
        loop {
            let wave: Vec<Vec<u8>> = queue.by_ref().take(concurrency.max(1)).collect();
            if wave.is_empty() {
                break;
            }
            let url = server.at("/api/v1/entries");
            let sends = wave
                .into_iter()
                .map(|b| submit_setup(http.clone(), url.clone(), b));
            for r in futures_join(sends).await? {
                r?;
            }
        }
        Ok(Self {
            municipality,
            provider,
            provider_key,
            contracts: contract_refs,
            periods,
        })
    }

    /// The number of contracts needed for `n` reports.
    pub(crate) fn contracts_for(n: usize) -> Result<usize> {
        Ok(n.div_ceil(periods()?.len()).max(1))
    }

    /// Signs `n` report submissions in parallel and returns their request bodies. Submission `i`
    /// reports contract `i % contracts` for period `i / contracts`, so neighbours in time touch
    /// different contracts, as many providers reporting at once would.
    pub(crate) fn presign(&self, n: usize) -> Result<Vec<Vec<u8>>> {
        let template: Value = serde_json::from_str(insyn_domain::report::example_report_json())
            .context("the example report")?;
        let k = self.contracts.len();
        if n > k * self.periods.len() {
            bail!("{n} reports need more than {k} contracts");
        }
        (0..n)
            .into_par_iter()
            .map(|i| {
                let contract = &self.contracts[i % k];
                let period = self.periods[i / k];
                let mut v = template.clone();
                v["contract"] = json!({
                    "municipality": self.municipality.code(),
                    "reference": contract.reference.as_str(),
                });
                v["period"] = json!(period.to_string());
                v["provider"] = json!(self.provider.digits());
                // Enough people in the caseload for every service figure of the example report.
                v["caseload"]["active"] = json!(30 + i % 40);
                let payload = serde_json::to_vec(&v)?;
                let signed = sign(
                    &self.provider_key,
                    Actor::Provider(self.provider),
                    Body::ReportSubmitted {
                        contract: contract.clone(),
                        period,
                    },
                    Some(&payload),
                )?;
                Ok(body(&signed, Some(&payload)))
            })
            .collect()
    }
}

/// Runs futures concurrently on this task and collects their results in order.
async fn futures_join<F, T>(futs: impl Iterator<Item = F>) -> Result<Vec<T>>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.context("a setup task failed")?);
    }
    Ok(out)
}
