//! Reading the replicas' `GET /metrics` (Prometheus text) — just enough of the format to add up a
//! counter over the samples whose labels match.

/// The sum of `name`'s samples that carry every label pair in `labels`.
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (label_text, value) = match rest.strip_prefix('{') {
                Some(inner) => {
                    let end = inner.rfind('}')?;
                    (&inner[..end], inner[end + 1..].trim())
                }
                None if rest.starts_with(' ') => ("", rest.trim()),
                None => return None,
            };
            let matches = labels.iter().all(|(k, v)| label_text.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            matches.then(|| value.split_whitespace().next()?.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// `GET {replica}/metrics`.
pub async fn scrape(client: &reqwest::Client, replica_url: &str) -> Result<String, String> {
    let res = client.get(format!("{replica_url}/metrics")).send().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("{replica_url}/metrics: {}", res.status()));
    }
    res.text().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::sum;

    const TEXT: &str = "# HELP miniagent_requests_total x\n\
        miniagent_requests_total{method=\"POST\",route=\"/agent/run\",status=\"200\"} 7\n\
        miniagent_requests_total{method=\"POST\",route=\"/agent/run\",status=\"429\"} 2\n\
        miniagent_requests_total{method=\"GET\",route=\"/ready\",status=\"200\"} 5\n\
        miniagent_requests_total_extra 100\n\
        miniagent_rate_limited_total{key=\"scale-limit\"} 2\n";

    #[test]
    fn adds_up_the_samples_whose_labels_match() {
        assert_eq!(sum(TEXT, "miniagent_requests_total", &[("route", "/agent/run")]), 9.0);
        assert_eq!(sum(TEXT, "miniagent_requests_total", &[("route", "/agent/run"), ("status", "200")]), 7.0);
        assert_eq!(sum(TEXT, "miniagent_requests_total", &[("status", "200")]), 12.0);
        assert_eq!(sum(TEXT, "miniagent_rate_limited_total", &[("key", "scale-limit")]), 2.0);
        assert_eq!(sum(TEXT, "miniagent_rate_limited_total", &[("key", "other")]), 0.0);
    }
}
