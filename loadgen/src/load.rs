//! Starting hosts and callers, driving the closed or open loop, and counting what comes back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use orbit_client::codec::JvmValue;
use orbit_client::{
    Actor, ActorContext, ActorError, AddressableReference, ClientBuilder, ClientConfig, IntoJvm, Invocation, Key,
    OrbitClient,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::raw::{self, RawCaller, RawHost};
use crate::report::{LoadResult, Loop};
use crate::{ECHO_ACTOR, Mode, Options};

/// At most this many error texts are kept for the report.
const ERROR_SAMPLES: usize = 5;
/// Open loop: at most this many calls may be outstanding; beyond it sending waits (and the
/// wait shows in the latencies, which count from the time a call was due).
const OPEN_LOOP_OUTSTANDING: usize = 100_000;
/// Latencies are recorded in microseconds, up to this many.
const HISTOGRAM_MAX_MICROS: u64 = 3_600_000_000;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The Rust echo actor the client-mode hosts run, under the harness's Kotlin interface name.
struct Echo;

#[orbit_client::async_trait]
impl Actor for Echo {
    async fn invoke(&mut self, _context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        if call.is("echoString", &["java.lang.String"]) {
            Ok(JvmValue::String(call.arg::<String>(0)?))
        } else if call.is("ping", &[]) {
            Ok("pong".to_owned().into_jvm())
        } else {
            Err(ActorError::no_such_method(&call))
        }
    }
}

/// Whatever keeps this process's hosts alive.
enum Hosts {
    Client(Vec<OrbitClient>),
    Raw(Vec<RawHost>),
}

impl Hosts {
    async fn start(options: &Options, server: &str) -> anyhow::Result<Self> {
        match options.mode {
            Mode::Client => {
                let mut clients = Vec::new();
                for _ in 0..options.hosts {
                    let client = ClientBuilder::new(client_config(options, server))
                        .actor(ECHO_ACTOR, |_| Echo)
                        .connect()
                        .await
                        .context("starting a hosting client")?;
                    clients.push(client);
                }
                Ok(Self::Client(clients))
            }
            Mode::Echo => Ok(Self::Raw(Vec::new())),
            Mode::Raw => {
                let mut hosts = Vec::new();
                for _ in 0..options.hosts {
                    let host = RawHost::connect(raw::channel(server)?, &options.namespace, vec![ECHO_ACTOR.to_owned()])
                        .await
                        .context("starting a raw host")?;
                    hosts.push(host);
                }
                Ok(Self::Raw(hosts))
            }
        }
    }

    async fn stop(self) {
        match self {
            Self::Client(clients) => {
                for client in clients {
                    client.stop().await;
                }
            }
            Self::Raw(hosts) => {
                for host in hosts {
                    host.stop().await;
                }
            }
        }
    }
}

fn client_config(options: &Options, server: &str) -> ClientConfig {
    ClientConfig { message_timeout: options.timeout(), ..ClientConfig::new(server, options.namespace.clone()) }
}

/// One caller: a client of the runtime, or a raw stream with its requests prepared per actor.
enum Caller {
    Client(OrbitClient),
    Raw(RawCaller),
}

/// Everything the calls share.
struct Shared {
    callers: Vec<Caller>,
    references: Vec<AddressableReference>,
    /// Raw mode: the prepared request for each actor.
    requests: Vec<compat_proto::pb::MessageProto>,
    payload: String,
    /// The answer's JSON a correct echo gives (raw mode compares text).
    expected: String,
    timeout: Duration,
    next_call: AtomicU64,
    /// When the measured phase starts and ends.
    measure_from: Instant,
    measure_until: Instant,
    counts: Counts,
    histogram: Mutex<Histogram<u64>>,
    error_samples: Mutex<Vec<String>>,
    /// Microseconds after `measure_from` at which the last measured call ended.
    last_end_micros: AtomicU64,
}

/// Call counters; "measured" ones count calls due inside the measured phase.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    answered: AtomicU64,
    measured_sent: AtomicU64,
    measured_ok: AtomicU64,
    measured_errors: AtomicU64,
    measured_wrong: AtomicU64,
}

impl Shared {
    /// Counts a call due at `due` as sent (before it is handed to a task, so a call that has
    /// not started by the end still counts) and says whether it is measured.
    fn begin(&self, due: Instant) -> bool {
        let measured = due >= self.measure_from && due < self.measure_until;
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        if measured {
            self.counts.measured_sent.fetch_add(1, Ordering::Relaxed);
        }
        measured
    }

    /// Makes call number `n` (actor and caller chosen round robin), counted by [`Shared::begin`],
    /// and records its outcome; `due` is when it was meant to start (the latency counts from
    /// there).
    async fn call(&self, n: u64, due: Instant, measured: bool) {
        let actor = usize::try_from(n % self.references.len() as u64).unwrap_or(0);
        let caller = &self.callers[usize::try_from(n % self.callers.len() as u64).unwrap_or(0)];
        let outcome: Result<bool, String> = match caller {
            Caller::Client(client) => client
                .actor(self.references[actor].addressable_type.clone(), self.references[actor].key.clone())
                .call::<String>("echoString", vec![self.payload.clone().into_argument()])
                .await
                .map(|answer| answer == self.payload)
                .map_err(|e| e.to_string()),
            Caller::Raw(raw) => {
                raw.call(self.requests[actor].clone(), self.timeout).await.map(|answer| answer == self.expected)
            }
        };
        let ended = Instant::now();
        self.counts.answered.fetch_add(1, Ordering::Relaxed);
        if !measured {
            return;
        }
        match outcome {
            Ok(true) => {
                self.counts.measured_ok.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(ended.saturating_duration_since(due).as_micros()).unwrap_or(u64::MAX);
                let _ = lock(&self.histogram).record(micros.clamp(1, HISTOGRAM_MAX_MICROS));
                let since = u64::try_from(ended.saturating_duration_since(self.measure_from).as_micros()).unwrap_or(0);
                self.last_end_micros.fetch_max(since, Ordering::Relaxed);
            }
            Ok(false) => {
                self.counts.measured_wrong.fetch_add(1, Ordering::Relaxed);
                self.sample(format!("wrong answer from {}", self.references[actor]));
            }
            Err(error) => {
                self.counts.measured_errors.fetch_add(1, Ordering::Relaxed);
                self.sample(error);
            }
        }
    }

    fn sample(&self, error: String) {
        let mut samples = lock(&self.error_samples);
        if samples.len() < ERROR_SAMPLES && !samples.contains(&error) {
            samples.push(error);
        }
    }

    fn outstanding(&self) -> u64 {
        self.counts.sent.load(Ordering::Relaxed).saturating_sub(self.counts.answered.load(Ordering::Relaxed))
    }
}

/// The payload: `bytes` ASCII letters.
fn payload(bytes: usize) -> String {
    (0..bytes).map(|i| char::from(b'a' + u8::try_from(i % 26).unwrap_or(0))).collect()
}

/// Runs the load `options` describe and returns what was measured.
pub async fn run(options: &Options) -> anyhow::Result<LoadResult> {
    if options.mode == Mode::Echo && options.server.is_empty() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("binding the echo server")?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(raw::serve_echo(listener));
        let options = Options { server: address.clone(), host_server: Some(address), hosts: 0, ..options.clone() };
        let result = run_load(&options).await;
        server.abort();
        return result;
    }
    run_load(options).await
}

async fn run_load(options: &Options) -> anyhow::Result<LoadResult> {
    let host_server = options.host_server.clone().unwrap_or_else(|| options.server.clone());
    let hosts = Hosts::start(options, &host_server).await?;
    let mut callers = Vec::new();
    for _ in 0..options.callers {
        callers.push(match options.mode {
            Mode::Client => Caller::Client(
                ClientBuilder::new(client_config(options, &options.server))
                    .connect()
                    .await
                    .context("starting a calling client")?,
            ),
            Mode::Raw => Caller::Raw(
                RawCaller::connect(raw::channel(&options.server)?, &options.namespace)
                    .await
                    .context("starting a raw caller")?,
            ),
            Mode::Echo => Caller::Raw(
                RawCaller::connect_echo(raw::channel(&options.server)?).await.context("starting an echo caller")?,
            ),
        });
    }
    let payload = payload(options.payload_bytes);
    let arguments = orbit_client::codec::encode_arguments(&[payload.clone().into_argument()]);
    let references: Vec<AddressableReference> =
        (0..options.actors).map(|i| AddressableReference::new(ECHO_ACTOR, Key::String(format!("bench-{i}")))).collect();
    let requests = match options.mode {
        Mode::Raw | Mode::Echo => references.iter().map(|r| raw::request(r, "echoString", &arguments)).collect(),
        Mode::Client => Vec::new(),
    };
    let started = Instant::now();
    let measure_from = started + options.warmup();
    let shared = Arc::new(Shared {
        callers,
        references,
        requests,
        expected: orbit_client::codec::encode_result(&JvmValue::String(payload.clone())),
        payload,
        timeout: options.timeout(),
        next_call: AtomicU64::new(0),
        measure_from,
        measure_until: measure_from + options.duration(),
        counts: Counts::default(),
        histogram: Mutex::new(Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3).context("histogram")?),
        error_samples: Mutex::new(Vec::new()),
        last_end_micros: AtomicU64::new(0),
    });
    let progress = (!options.quiet).then(|| tokio::spawn(progress(Arc::clone(&shared), started)));
    let (shape, unanswered) = match options.rate {
        None => (Loop::Closed { in_flight: options.in_flight }, closed_loop(&shared, options.in_flight).await),
        Some(rate) => (Loop::Open { rate }, open_loop(&shared, rate).await),
    };
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    let result = LoadResult::new(options, shape, &summary(&shared, unanswered));
    for caller in &shared.callers {
        if let Caller::Client(client) = caller {
            client.stop().await;
        }
    }
    hosts.stop().await;
    Ok(result)
}

/// `in_flight` workers, each sending its next call when the last one ends, until the
/// measured phase is over; returns how many calls were never answered.
async fn closed_loop(shared: &Arc<Shared>, in_flight: usize) -> u64 {
    let mut workers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let shared = Arc::clone(shared);
        workers.push(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                if now >= shared.measure_until {
                    return;
                }
                let n = shared.next_call.fetch_add(1, Ordering::Relaxed);
                let measured = shared.begin(now);
                shared.call(n, now, measured).await;
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    shared.outstanding()
}

/// Sends `rate` calls per second on schedule until the measured phase is over, then waits
/// (at most the call timeout and a second) for the outstanding ones; returns how many were
/// never answered.
async fn open_loop(shared: &Arc<Shared>, rate: f64) -> u64 {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let limit = Arc::new(Semaphore::new(OPEN_LOOP_OUTSTANDING));
    let first = Instant::now();
    let mut n: u64 = 0;
    'schedule: loop {
        let now = Instant::now();
        // Everything due by now goes out at once (timers tick in milliseconds).
        loop {
            let due = first + interval.mul_f64(n as f64);
            if due >= shared.measure_until {
                break 'schedule;
            }
            if due > now {
                tokio::time::sleep_until(due).await;
                continue 'schedule;
            }
            let Ok(permit) = Arc::clone(&limit).acquire_owned().await else { break 'schedule };
            let shared = Arc::clone(shared);
            let call = n;
            let measured = shared.begin(due);
            tokio::spawn(async move {
                shared.call(call, due, measured).await;
                drop(permit);
            });
            n += 1;
        }
    }
    let deadline = Instant::now() + shared.timeout + Duration::from_secs(1);
    while shared.outstanding() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.outstanding()
}

/// One line on stderr every second, rewritten in place.
async fn progress(shared: Arc<Shared>, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let answered = shared.counts.answered.load(Ordering::Relaxed);
        let phase = if Instant::now() < shared.measure_from { "warm-up" } else { "measuring" };
        eprint!(
            "\rorbit-load: {:>4} s {phase:<9} answered {answered:>10} ({:>8}/s)  measured ok {:>10}  errors {:>6}  in flight {:>6}",
            started.elapsed().as_secs(),
            answered - last,
            shared.counts.measured_ok.load(Ordering::Relaxed),
            shared.counts.measured_errors.load(Ordering::Relaxed),
            shared.outstanding(),
        );
        last = answered;
    }
}

/// What [`LoadResult`] is built from.
pub struct Summary {
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub wrong: u64,
    pub unanswered: u64,
    pub warmup_calls: u64,
    pub seconds: f64,
    pub histogram: Histogram<u64>,
    pub error_samples: Vec<String>,
}

fn summary(shared: &Shared, unanswered: u64) -> Summary {
    let counts = &shared.counts;
    let sent = counts.measured_sent.load(Ordering::Relaxed);
    let last_end = Duration::from_micros(shared.last_end_micros.load(Ordering::Relaxed));
    let nominal = shared.measure_until.saturating_duration_since(shared.measure_from);
    Summary {
        sent,
        ok: counts.measured_ok.load(Ordering::Relaxed),
        errors: counts.measured_errors.load(Ordering::Relaxed),
        wrong: counts.measured_wrong.load(Ordering::Relaxed),
        unanswered,
        warmup_calls: counts.sent.load(Ordering::Relaxed).saturating_sub(sent),
        seconds: last_end.max(nominal).as_secs_f64(),
        histogram: lock(&shared.histogram).clone(),
        error_samples: lock(&shared.error_samples).clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_asked_length() {
        assert_eq!(payload(0), "");
        assert_eq!(payload(3), "abc");
        assert_eq!(payload(30).len(), 30);
    }
}
