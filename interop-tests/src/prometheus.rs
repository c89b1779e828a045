//! Scrapes a Prometheus endpoint and reads the text exposition format, so a test can compare
//! what the Kotlin server's Micrometer registry and orbit-node expose.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// One HTTP answer of a metrics endpoint.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The `Content-Type` header, as sent.
    pub content_type: String,
    /// The body (de-chunked).
    pub body: String,
}

/// Fetches `http://127.0.0.1:{port}{path}` with a plain HTTP/1.1 GET.
pub async fn scrape(port: u16, path: &str) -> anyhow::Result<Scrape> {
    let fetch = async {
        let mut socket = TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        socket.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        socket.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = timeout(Duration::from_secs(10), fetch).await.context("scrape timed out")??;
    let text = String::from_utf8(raw).context("scrape is not UTF-8")?;
    let (head, body) = text.split_once("\r\n\r\n").context("no end of HTTP headers")?;
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("scrape of :{port}{path} answered {status}");
    }
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let body = if header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(Scrape { content_type: header("Content-Type").unwrap_or_default(), body })
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("chunk size line")?;
        let size = usize::from_str_radix(size.trim(), 16).context("chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("short chunk")?);
        body = rest.get(size + 2..).context("chunk end")?;
    }
}

/// A metric family: its `# TYPE` and the label names of each of its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// `counter`, `gauge`, `summary`, ...
    pub kind: String,
    /// The label names of every series (empty for a series without labels).
    pub label_sets: BTreeSet<Vec<String>>,
}

/// What a scrape exposes: families by name and sample values by series (`name{labels}`).
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
    /// Sample values by series, e.g. `orbit_tick_timer_seconds_count`.
    pub samples: BTreeMap<String, f64>,
}

/// Parses the Prometheus text format (0.0.4); samples are attributed to the family whose
/// name is their longest prefix (`x_count` and `x_sum` belong to summary `x`).
pub fn parse(text: &str) -> anyhow::Result<Exposition> {
    let mut exposition = Exposition::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').with_context(|| format!("bad TYPE line {line:?}"))?;
            exposition
                .families
                .insert(name.to_owned(), Family { kind: kind.trim().to_owned(), label_sets: BTreeSet::new() });
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').with_context(|| format!("bad sample line {line:?}"))?;
        let value: f64 = value.parse().with_context(|| format!("bad sample value in {line:?}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').with_context(|| format!("bad labels in {line:?}"))?;
                let names = labels
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
                    .collect::<Vec<_>>();
                (name, names)
            }
            None => (series, Vec::new()),
        };
        let family = exposition
            .families
            .keys()
            .filter(|family| name.starts_with(family.as_str()))
            .max_by_key(|family| family.len())
            .cloned()
            .with_context(|| format!("sample {name} before its TYPE line"))?;
        if let Some(family) = exposition.families.get_mut(&family) {
            family.label_sets.insert(labels);
        }
        exposition.samples.insert(series.to_owned(), value);
    }
    Ok(exposition)
}

/// How a sample moved between two scrapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// Lower after than before.
    Down,
    /// Unchanged.
    Same,
    /// Higher after than before.
    Up,
}

impl Direction {
    /// The direction from `before` (absent counts as 0) to `after`.
    pub fn of(before: Option<f64>, after: f64) -> Self {
        let before = before.unwrap_or(0.0);
        if after > before {
            Self::Up
        } else if after < before {
            Self::Down
        } else {
            Self::Same
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_micrometer_output() -> anyhow::Result<()> {
        let text = "# HELP a_total  \n# TYPE a_total counter\na_total 3.0\n\
                    # HELP t_seconds  \n# TYPE t_seconds summary\nt_seconds_count 2.0\nt_seconds_sum 0.5\n\
                    # HELP t_seconds_max  \n# TYPE t_seconds_max gauge\nt_seconds_max 0.4\n\
                    # TYPE l gauge\nl{x=\"1\",y=\"b\"} 7.0\n\n";
        let parsed = parse(text)?;
        assert_eq!(parsed.families["t_seconds"].kind, "summary");
        assert_eq!(parsed.families["t_seconds_max"].kind, "gauge");
        assert_eq!(parsed.samples["t_seconds_count"], 2.0);
        assert_eq!(parsed.samples["t_seconds_max"], 0.4);
        assert!(parsed.families["l"].label_sets.contains(&vec!["x".to_owned(), "y".to_owned()]));
        assert!(parse("orphan 1.0").is_err(), "a sample needs its TYPE line");
        assert_eq!(Direction::of(None, 1.0), Direction::Up);
        assert_eq!(Direction::of(Some(2.0), 1.0), Direction::Down);
        Ok(())
    }

    #[test]
    fn dechunks() -> anyhow::Result<()> {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")?, "abcde");
        assert!(dechunk("9\r\nabc\r\n").is_err());
        Ok(())
    }
}
