//! Request handling times per API, so that broker-side latency can be told apart from what a
//! client measures (which adds its own batching, queueing and the network).
//!
//! A request's handling time runs from the moment its frame has been read completely to the
//! moment its response has been written to the socket (for Fetch this includes the long-poll
//! wait, up to `max.wait.ms`). Time a request spends in the socket buffer behind an earlier
//! request of the same connection is not included: Kafka answers one request of a connection
//! at a time, and this is the client's pipelining.
//!
//! Each connection records into its own [`RequestTimes`] (no locks, no atomics on the request
//! path); when it closes it logs one debug line per API it used (target
//! `ferry_broker::server::stats`) and adds its histograms to the broker's totals, which the
//! broker logs the same way when it stops.

use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// Sub-buckets per power of two: values are kept to within 1/8 (12.5%).
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Microsecond values up to 2^36 (19 hours) get their own bucket; larger ones share the last.
const MAX_EXPONENT: u32 = 36;
const BUCKETS: usize = ((MAX_EXPONENT - SUB_BITS + 2) * SUB as u32) as usize;

/// A log-linear histogram of durations in microseconds.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum_us: u64,
    max_us: u64,
}

fn bucket(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let exponent = 63 - us.leading_zeros();
    let shift = exponent - SUB_BITS;
    let index = (u64::from(shift) + 1) * SUB + ((us >> shift) - SUB);
    (index as usize).min(BUCKETS - 1)
}

/// The largest value that falls into bucket `index`.
fn bucket_high(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let shift = index / SUB - 1;
    let mantissa = index % SUB + SUB;
    ((mantissa + 1) << shift) - 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl Histogram {
    pub(crate) fn record(&mut self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket(us)] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1), in µs: the upper bound of its bucket (at most 12.5%
    /// above the true value), never above the largest value recorded.
    pub(crate) fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((self.count as f64 * q).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).min(self.max_us);
            }
        }
        self.max_us
    }

    fn add(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.max_us = self.max_us.max(other.max_us);
    }
}

/// Handling times of one connection's requests (or of all connections), per API.
#[derive(Debug, Default)]
pub(crate) struct RequestTimes {
    by_api: Vec<(ApiKey, Histogram)>,
}

impl RequestTimes {
    pub(crate) fn record(&mut self, api: ApiKey, elapsed: Duration) {
        match self.by_api.iter_mut().find(|(a, _)| *a == api) {
            Some((_, h)) => h.record(elapsed),
            None => {
                let mut h = Histogram::default();
                h.record(elapsed);
                self.by_api.push((api, h));
            }
        }
    }

    fn add(&mut self, other: &RequestTimes) {
        for (api, h) in &other.by_api {
            match self.by_api.iter_mut().find(|(a, _)| a == api) {
                Some((_, mine)) => mine.add(h),
                None => self.by_api.push((*api, h.clone())),
            }
        }
    }

    /// One debug line per API: `scope` says whose requests these are.
    pub(crate) fn log(&self, scope: &str, peer: Option<std::net::SocketAddr>) {
        for (api, h) in &self.by_api {
            tracing::debug!(
                scope,
                peer = peer.map(|p| p.to_string()),
                api = ?api,
                count = h.count(),
                mean_us = h.sum_us / h.count.max(1),
                p50_us = h.quantile_us(0.5),
                p99_us = h.quantile_us(0.99),
                p999_us = h.quantile_us(0.999),
                max_us = h.max_us,
                "request handling times"
            );
        }
    }
}

/// The broker's totals, fed by connections as they close.
#[derive(Debug, Default)]
pub(crate) struct BrokerTimes {
    totals: Mutex<RequestTimes>,
}

impl BrokerTimes {
    pub(crate) fn add(&self, connection: &RequestTimes) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals.add(connection);
    }

    pub(crate) fn log(&self) {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals.log("broker", None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_an_eighth() {
        let mut last = 0;
        for us in 0..1_000_000u64 {
            let b = bucket(us);
            assert!(b == last || b == last + 1, "gap at {us}");
            last = b;
            let high = bucket_high(b);
            assert!(high >= us, "{us} above its bucket's bound {high}");
            assert!(high - us <= us / 8, "{us}: bound {high} is too coarse");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_follow_the_recorded_values() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile_us(0.99), 0);
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile_us(0.5);
        assert!((500..=563).contains(&p50), "p50 {p50}");
        let p99 = h.quantile_us(0.99);
        assert!((990..=1000).contains(&p99), "p99 {p99}");
        assert_eq!(h.quantile_us(1.0), 1000);
        let mut other = Histogram::default();
        other.record(Duration::from_secs(2));
        h.add(&other);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.quantile_us(1.0), 2_000_000);
    }

    #[test]
    fn connection_times_add_up_per_api() {
        let mut a = RequestTimes::default();
        a.record(ApiKey::Produce, Duration::from_micros(10));
        a.record(ApiKey::Fetch, Duration::from_micros(20));
        let mut b = RequestTimes::default();
        b.record(ApiKey::Produce, Duration::from_micros(30));
        let totals = BrokerTimes::default();
        totals.add(&a);
        totals.add(&b);
        let t = totals.totals.lock().unwrap();
        let produce = t
            .by_api
            .iter()
            .find(|(k, _)| *k == ApiKey::Produce)
            .unwrap();
        assert_eq!(produce.1.count(), 2);
        assert_eq!(produce.1.max_us, 30);
    }
}
