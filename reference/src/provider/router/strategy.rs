//! Choosing one deployment among the available ones of a group: `order` tiers first, then the
//! routing strategy. Pure: the caller gathers each candidate's figures, and passes the randomness,
//! so a test fixes the seed and checks a spread exactly.

use rand::Rng;

use super::settings::Strategy;

/// One available deployment, as the strategy sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    /// The caller's index for it (returned by [`pick`]).
    pub slot: usize,
    /// `order`; `u32::MAX` for none (after every ordered tier).
    pub order: u32,
    /// `weight`, `rpm` and `tpm` as configured.
    pub weight: Option<f64>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub in_flight: u32,
    /// Mean recent latency in ms; `None` when it has none (it is then tried first, to learn it).
    pub latency_ms: Option<f64>,
    pub rpm_used: u64,
    pub tpm_used: u64,
}

/// The slot of the deployment to use, or `None` when no candidate may take the request (none
/// given, or — usage-based — every one at its `rpm`/`tpm`).
pub(crate) fn pick(strategy: &Strategy, candidates: &[Candidate], rng: &mut impl Rng) -> Option<usize> {
    let lowest = candidates.iter().map(|c| c.order).min()?;
    let mut tier = [Candidate::EMPTY; MAX_TIER];
    let mut n = 0;
    for c in candidates.iter().filter(|c| c.order == lowest).take(MAX_TIER) {
        tier[n] = *c;
        n += 1;
    }
    let tier = &tier[..n];
    let chosen = match strategy {
        Strategy::SimpleShuffle => shuffle(tier, rng),
        Strategy::LeastBusy => lowest_by(tier, |c| f64::from(c.in_flight), 0.0, rng),
        Strategy::LatencyBased { buffer, .. } => lowest_by(tier, |c| c.latency_ms.unwrap_or(0.0), *buffer, rng),
        // At a limit is as good as absent: scored past every candidate under its limits.
        Strategy::UsageBased => {
            lowest_by(tier, |c| if c.under_limits() { c.tpm_used as f64 } else { f64::INFINITY }, 0.0, rng)
                .filter(|c| c.under_limits())
        }
    };
    chosen.map(|c| c.slot)
}

/// Candidates considered per tier: a group of more deployments than this uses its first ones
/// (kept on the stack so a decision allocates nothing).
pub(crate) const MAX_TIER: usize = 64;

impl Candidate {
    pub(crate) const EMPTY: Candidate = Candidate {
        slot: 0,
        order: 0,
        weight: None,
        rpm: None,
        tpm: None,
        in_flight: 0,
        latency_ms: None,
        rpm_used: 0,
        tpm_used: 0,
    };

    /// Whether one more request fits its `rpm` and `tpm` this minute.
    pub(crate) fn under_limits(&self) -> bool {
        self.rpm.is_none_or(|limit| self.rpm_used < limit) && self.tpm.is_none_or(|limit| self.tpm_used < limit)
    }
}

/// simple-shuffle: weighted by `weight` when any candidate has one, else `rpm`, else `tpm` (a
/// candidate without the field weighs 0), else uniform — and uniform when the weights add to 0.
fn shuffle<'c>(tier: &'c [Candidate], rng: &mut impl Rng) -> Option<&'c Candidate> {
    let weight_of: fn(&Candidate) -> f64 = if tier.iter().any(|c| c.weight.is_some()) {
        |c| c.weight.unwrap_or(0.0)
    } else if tier.iter().any(|c| c.rpm.is_some()) {
        |c| c.rpm.unwrap_or(0) as f64
    } else if tier.iter().any(|c| c.tpm.is_some()) {
        |c| c.tpm.unwrap_or(0) as f64
    } else {
        |_| 1.0
    };
    let total: f64 = tier.iter().map(weight_of).sum();
    if !(total > 0.0 && total.is_finite()) {
        return uniform(tier, rng);
    }
    let mut point = rng.random_range(0.0..total);
    for c in tier {
        let w = weight_of(c);
        if point < w {
            return Some(c);
        }
        point -= w;
    }
    tier.iter().rev().find(|c| weight_of(c) > 0.0)
}

fn uniform<'c>(tier: &'c [Candidate], rng: &mut impl Rng) -> Option<&'c Candidate> {
    (!tier.is_empty()).then(|| &tier[rng.random_range(0..tier.len())])
}

/// The candidate with the lowest `score`; every candidate within `buffer` (a fraction) of it is as
/// good, and one of those is taken at random (so ties spread instead of piling on the first).
fn lowest_by<'c>(
    tier: &'c [Candidate],
    score: impl Fn(&Candidate) -> f64,
    buffer: f64,
    rng: &mut impl Rng,
) -> Option<&'c Candidate> {
    let best = tier.iter().map(&score).min_by(f64::total_cmp)?;
    let limit = if buffer > 0.0 { best + best.abs() * buffer } else { best };
    let near = tier.iter().filter(|c| score(c) <= limit).count();
    if near == 0 {
        return None;
    }
    let k = rng.random_range(0..near);
    tier.iter().filter(|c| score(c) <= limit).nth(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::time::Duration;

    fn c(slot: usize) -> Candidate {
        Candidate { slot, order: u32::MAX, ..Candidate::EMPTY }
    }

    /// How often each slot is picked in `n` decisions.
    fn spread(strategy: &Strategy, candidates: &[Candidate], n: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = vec![0; candidates.len()];
        for _ in 0..n {
            counts[pick(strategy, candidates, &mut rng).expect("a pick")] += 1;
        }
        counts
    }

    fn within(counts: &[usize], shares: &[f64], n: usize, tolerance: f64) {
        for (got, share) in counts.iter().zip(shares) {
            let want = share * n as f64;
            assert!((*got as f64 - want).abs() <= tolerance * n as f64, "{counts:?} vs shares {shares:?}");
        }
    }

    #[test]
    fn shuffle_weighs_by_weight_then_rpm_then_tpm_then_uniformly() {
        let n = 20_000;
        let weights = [1.0, 2.0, 7.0].map(|w| Candidate { weight: Some(w), rpm: Some(1), ..c(0) });
        let cands: Vec<Candidate> = weights.iter().enumerate().map(|(i, x)| Candidate { slot: i, ..*x }).collect();
        within(&spread(&Strategy::SimpleShuffle, &cands, n), &[0.1, 0.2, 0.7], n, 0.02);
        let rpm: Vec<Candidate> = [100, 300, 600]
            .iter()
            .enumerate()
            .map(|(i, r)| Candidate { rpm: Some(*r), tpm: Some(1), ..c(i) })
            .collect();
        within(&spread(&Strategy::SimpleShuffle, &rpm, n), &[0.1, 0.3, 0.6], n, 0.02);
        let tpm: Vec<Candidate> =
            [1, 1, 2].iter().enumerate().map(|(i, t)| Candidate { tpm: Some(*t), ..c(i) }).collect();
        within(&spread(&Strategy::SimpleShuffle, &tpm, n), &[0.25, 0.25, 0.5], n, 0.02);
        let plain: Vec<Candidate> = (0..4).map(c).collect();
        within(&spread(&Strategy::SimpleShuffle, &plain, n), &[0.25; 4], n, 0.02);
        let zero: Vec<Candidate> = (0..2).map(|i| Candidate { weight: Some(0.0), ..c(i) }).collect();
        within(&spread(&Strategy::SimpleShuffle, &zero, n), &[0.5, 0.5], n, 0.02);
    }

    #[test]
    fn the_lowest_order_tier_is_used_alone() {
        let cands = [Candidate { order: 2, ..c(0) }, Candidate { order: 1, ..c(1) }, c(2)];
        assert_eq!(spread(&Strategy::SimpleShuffle, &cands, 500), [0, 500, 0]);
        assert_eq!(spread(&Strategy::SimpleShuffle, &[cands[0], cands[2]], 500), [500, 0], "then the next tier");
        assert_eq!(pick(&Strategy::LeastBusy, &[], &mut StdRng::seed_from_u64(1)), None);
    }

    #[test]
    fn least_busy_takes_the_fewest_in_flight_and_spreads_ties() {
        let cands = [Candidate { in_flight: 3, ..c(0) }, Candidate { in_flight: 1, ..c(1) }, c(2)];
        assert_eq!(spread(&Strategy::LeastBusy, &cands, 300), [0, 0, 300]);
        within(&spread(&Strategy::LeastBusy, &[c(0), c(1)], 10_000), &[0.5, 0.5], 10_000, 0.03);
    }

    #[test]
    fn latency_based_prefers_the_fastest_unknown_first_and_honours_the_buffer() {
        let ttl = Duration::from_secs(60);
        let fast = [
            Candidate { latency_ms: Some(50.0), ..c(0) },
            Candidate { latency_ms: Some(10.0), ..c(1) },
            Candidate { latency_ms: Some(12.0), ..c(2) },
        ];
        assert_eq!(spread(&Strategy::LatencyBased { ttl, buffer: 0.0 }, &fast, 300), [0, 300, 0]);
        let buffered = spread(&Strategy::LatencyBased { ttl, buffer: 0.5 }, &fast, 10_000);
        assert_eq!(buffered[0], 0, "50 ms is not within 50 % of 10 ms");
        within(&buffered[1..], &[0.5, 0.5], 10_000, 0.03);
        let unknown = [Candidate { slot: 0, ..fast[1] }, c(1)];
        assert_eq!(spread(&Strategy::LatencyBased { ttl, buffer: 0.0 }, &unknown, 10), [0, 10], "unknown is tried");
    }

    #[test]
    fn usage_based_takes_the_fewest_tokens_under_the_limits() {
        let cands = [
            Candidate { tpm_used: 10, ..c(0) },
            Candidate { tpm_used: 900, rpm: Some(5), rpm_used: 5, ..c(1) },
            Candidate { tpm_used: 50, ..c(2) },
        ];
        assert_eq!(spread(&Strategy::UsageBased, &cands, 100), [100, 0, 0]);
        let full =
            [Candidate { rpm: Some(2), rpm_used: 2, ..c(0) }, Candidate { tpm: Some(100), tpm_used: 100, ..c(1) }];
        assert_eq!(pick(&Strategy::UsageBased, &full, &mut StdRng::seed_from_u64(1)), None, "everyone is at a limit");
        assert!(!full[0].under_limits() && !full[1].under_limits());
        assert!(Candidate { rpm: Some(2), rpm_used: 1, ..c(0) }.under_limits());
    }
}
