//! [`LeaseLock`]: leader election over a `coordination.k8s.io/v1` Lease, so that several
//! replicas of a controller can run and only one acts.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::kube::api::{Api, PostParams};
use ::kube::{Client, Error};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

use crate::backend::Clock;

/// The timing of leader election, as client-go's `LeaderElectionConfig`.
///
/// A leader renews the lease every `retry_period`; when it has not managed to for
/// `renew_deadline` it steps down. Another replica takes over once it has seen the lease
/// unchanged for `lease_duration` (measured on its own clock from when it saw the lease change,
/// never by comparing timestamps written by another machine, so clock skew between replicas
/// does not matter). `renew_deadline < lease_duration` is what keeps two leaders from acting at
/// once.
///
/// ```
/// use std::time::Duration;
/// use spillway::runtime::kube::LeaseConfig;
/// assert!(LeaseConfig::default().validate().is_ok());
/// let bad = LeaseConfig { renew_deadline: Duration::from_secs(20), ..LeaseConfig::default() };
/// assert!(bad.validate().is_err()); // renew_deadline must be below lease_duration (15 s)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    /// How long a lease holds without renewal (whole seconds, at least 1; default 15 s).
    pub lease_duration: Duration,
    /// How long a leader keeps leading without a successful renewal (default 10 s).
    pub renew_deadline: Duration,
    /// The interval between attempts to acquire or renew (default 2 s); also the time limit of
    /// each API call.
    pub retry_period: Duration,
}

impl Default for LeaseConfig {
    fn default() -> LeaseConfig {
        LeaseConfig {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl LeaseConfig {
    /// Checks `0 < retry_period < renew_deadline < lease_duration`, with `lease_duration` in
    /// whole seconds.
    ///
    /// # Errors
    ///
    /// [`LeaseError::InvalidConfig`] saying which bound is broken.
    pub fn validate(&self) -> Result<(), LeaseError> {
        let problem = if self.lease_duration < Duration::from_secs(1) || self.lease_duration.subsec_nanos() != 0 {
            Some(format!("lease_duration {:?} must be a whole number of seconds, at least 1", self.lease_duration))
        } else if self.lease_duration.as_secs() > i32::MAX as u64 {
            Some(format!("lease_duration {:?} is too long", self.lease_duration))
        } else if self.renew_deadline >= self.lease_duration {
            Some(format!(
                "renew_deadline {:?} must be shorter than lease_duration {:?}, or two leaders may act at once",
                self.renew_deadline, self.lease_duration
            ))
        } else if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            Some(format!(
                "retry_period {:?} must be above zero and shorter than renew_deadline {:?}",
                self.retry_period, self.renew_deadline
            ))
        } else {
            None
        };
        match problem {
            Some(problem) => Err(LeaseError::InvalidConfig { problem }),
            None => Ok(()),
        }
    }
}

/// Who holds the lease after an attempt to acquire or renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseState {
    /// This replica holds it: act.
    Leader,
    /// Another replica holds it (or won the race for it): do not act.
    Follower {
        /// The holder's identity; `None` when it is not known yet (another replica created the
        /// lease first, or released it while we raced for it).
        holder: Option<String>,
    },
}

/// Why [`LeaseLock::hold`] returned: this replica is no longer the leader and must stop acting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseLost {
    /// Another replica holds the lease (it took over an expired lease, or wrote it first).
    Taken {
        /// Its identity, when known.
        holder: Option<String>,
    },
    /// The lease could not be renewed within the renew deadline.
    Deadline {
        /// The last failure.
        last_error: LeaseError,
    },
}

/// Why leader election failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// The timing breaks a bound (see [`LeaseConfig::validate`]).
    #[error("invalid leader election timing: {problem}")]
    InvalidConfig {
        /// Which bound, and the values.
        problem: String,
    },
    /// The API server refused a read or write of the lease.
    #[error("lease {lease}: the API server answered {code}: {message}{advice}")]
    Api {
        /// `namespace/name` of the lease.
        lease: String,
        /// The HTTP status.
        code: u16,
        /// The API server's message.
        message: String,
        /// What to do about it, if anything is known (starts with `; `).
        advice: &'static str,
    },
    /// The API server could not be reached or did not answer in time.
    #[error("lease {lease}: {message}")]
    Unavailable {
        /// `namespace/name` of the lease.
        lease: String,
        /// What went wrong.
        message: String,
    },
}

impl LeaseError {
    fn code(&self) -> Option<u16> {
        match self {
            LeaseError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

type WallClock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system time, as the Lease's timestamps need it.
fn system_time() -> Timestamp {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    // `subsec_nanos` is below 10⁹, so it fits an i32.
    let nanos = i32::try_from(since.subsec_nanos()).unwrap_or(0);
    Timestamp::new(secs, nanos).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Leader election over a `coordination.k8s.io/v1` Lease, written directly against the Lease
/// API (kube-runtime has no leader election built in).
///
/// [`try_acquire_or_renew`](Self::try_acquire_or_renew) is one attempt: it reads the lease and
/// - creates it, held by this replica, when there is none;
/// - renews it when this replica holds it;
/// - takes it over (incrementing `leaseTransitions`) when it is free (no holder) or expired:
///   unchanged for its `leaseDurationSeconds` since this replica last saw it change;
/// - otherwise leaves it to its holder.
///
/// Writes replace the lease at the `resourceVersion` just read, so of two replicas racing for
/// it one wins and the other gets a conflict and stays a follower. [`acquire`](Self::acquire)
/// tries until this replica leads; [`hold`](Self::hold) renews until leadership is lost;
/// [`release`](Self::release) gives the lease up on a clean shutdown so another replica takes
/// over at once.
///
/// Time comes from a [`Clock`] (expiry, deadlines, sleeps) and, for the timestamps written into
/// the lease, the system time (replaceable with [`with_wall_clock`](Self::with_wall_clock)).
///
/// ```
/// use std::time::Duration;
/// use spillway::backend::TokioClock;
/// use spillway::runtime::kube::{LeaseConfig, LeaseLock};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// # let (service, _handle) = tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
/// # let client = kube::Client::new(service, "default");
/// let lock = LeaseLock::new(client, "kube-system", "spillway", "spillway-7d9f-abcde", TokioClock::new())
///     .with_config(LeaseConfig { lease_duration: Duration::from_secs(30), ..LeaseConfig::default() })?;
/// assert!(!lock.is_leader()); // until acquire() or try_acquire_or_renew() says so
/// assert_eq!(lock.identity(), "spillway-7d9f-abcde");
/// # Ok::<(), spillway::runtime::kube::LeaseError>(())
/// # }).unwrap();
/// ```
pub struct LeaseLock {
    api: Api<Lease>,
    lease: String,
    name: String,
    identity: String,
    config: LeaseConfig,
    clock: Arc<dyn Clock>,
    wall: WallClock,
    /// The lease's last `resourceVersion` seen, and when (on `clock`) it was first seen.
    observed: Option<(String, Duration)>,
    /// When (on `clock`) this replica last acquired or renewed the lease.
    renewed_at: Option<Duration>,
}

impl fmt::Debug for LeaseLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseLock")
            .field("lease", &self.lease)
            .field("identity", &self.identity)
            .field("config", &self.config)
            .field("renewed_at", &self.renewed_at)
            .finish_non_exhaustive()
    }
}

impl LeaseLock {
    /// A lock on the Lease `name` in `namespace`, for the replica `identity` (unique per
    /// replica: its pod name), with the default [`LeaseConfig`].
    pub fn new(
        client: Client,
        namespace: &str,
        name: impl Into<String>,
        identity: impl Into<String>,
        clock: impl Clock + 'static,
    ) -> LeaseLock {
        let name = name.into();
        LeaseLock {
            api: Api::namespaced(client, namespace),
            lease: format!("{namespace}/{name}"),
            name,
            identity: identity.into(),
            config: LeaseConfig::default(),
            clock: Arc::new(clock),
            wall: Arc::new(system_time),
            observed: None,
            renewed_at: None,
        }
    }

    /// Sets the timing.
    ///
    /// # Errors
    ///
    /// [`LeaseError::InvalidConfig`] when `config` breaks a bound (see
    /// [`LeaseConfig::validate`]).
    pub fn with_config(mut self, config: LeaseConfig) -> Result<LeaseLock, LeaseError> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// Sets where the timestamps written into the lease (`acquireTime`, `renewTime`) come from
    /// (default: the system time). They are for people and other tools: expiry is measured on
    /// the [`Clock`].
    pub fn with_wall_clock(mut self, wall: impl Fn() -> Timestamp + Send + Sync + 'static) -> LeaseLock {
        self.wall = Arc::new(wall);
        self
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The timing.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Whether this replica leads: it acquired or renewed the lease less than
    /// `renew_deadline` ago.
    pub fn is_leader(&self) -> bool {
        self.renewed_at.is_some_and(|at| self.clock.now() < at + self.config.renew_deadline)
    }

    /// One attempt to acquire or renew the lease (see the [type docs](Self)).
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] when the lease cannot be read or written (a lost race is not an error:
    /// it is [`LeaseState::Follower`]). After an error, [`is_leader`](Self::is_leader) stays
    /// true until the renew deadline passes.
    pub async fn try_acquire_or_renew(&mut self) -> Result<LeaseState, LeaseError> {
        let now = self.clock.now();
        let result = self.attempt(now).await;
        match &result {
            Ok(LeaseState::Leader) => self.renewed_at = Some(now),
            Ok(LeaseState::Follower { .. }) => self.renewed_at = None,
            Err(_) => {}
        }
        result
    }

    async fn attempt(&mut self, now: Duration) -> Result<LeaseState, LeaseError> {
        let current = self.call(self.api.get_opt(&self.name)).await?;
        let wall = MicroTime((self.wall)());
        let secs = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.name.clone()), ..ObjectMeta::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(wall.clone()),
                    renew_time: Some(wall),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.call(self.api.create(&PostParams::default(), &lease)).await {
                Ok(created) => {
                    self.observe(&created, now);
                    Ok(LeaseState::Leader)
                }
                // Another replica created it first.
                Err(e) if e.code() == Some(409) => Ok(LeaseState::Follower { holder: None }),
                Err(e) => Err(e),
            };
        };
        self.observe(&lease, now);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let held_for = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map_or(self.config.lease_duration, Duration::from_secs);
        let seen_at = self.observed.as_ref().map_or(now, |(_, at)| *at);
        if let Some(other) = holder.as_ref().filter(|h| **h != self.identity)
            && now < seen_at + held_for
        {
            return Ok(LeaseState::Follower { holder: Some(other.clone()) });
        }
        // Free, expired, or ours: write this replica in, at the resourceVersion just read.
        let ours = holder.as_deref() == Some(self.identity.as_str());
        let mut next = spec.clone();
        next.holder_identity = Some(self.identity.clone());
        next.lease_duration_seconds = Some(secs);
        next.renew_time = Some(wall.clone());
        if !ours {
            next.acquire_time = Some(wall);
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        lease.spec = Some(next);
        match self.call(self.api.replace(&self.name, &PostParams::default(), &lease)).await {
            Ok(written) => {
                self.observe(&written, now);
                Ok(LeaseState::Leader)
            }
            // Someone wrote the lease after we read it: they hold it.
            Err(e) if e.code() == Some(409) => {
                Ok(LeaseState::Follower { holder: holder.filter(|h| *h != self.identity) })
            }
            Err(e) => Err(e),
        }
    }

    /// Records a version of the lease; its time is when this replica first saw that version.
    fn observe(&mut self, lease: &Lease, now: Duration) {
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        if self.observed.as_ref().is_none_or(|(v, _)| *v != version) {
            self.observed = Some((version, now));
        }
    }

    /// Tries every `retry_period` until this replica leads.
    ///
    /// # Errors
    ///
    /// The first [`LeaseError`] (the caller decides whether to try again, e.g. after
    /// logging it).
    pub async fn acquire(&mut self) -> Result<(), LeaseError> {
        loop {
            if self.try_acquire_or_renew().await? == LeaseState::Leader {
                return Ok(());
            }
            self.clock.sleep(self.config.retry_period).await;
        }
    }

    /// Renews the lease every `retry_period` while this replica leads; returns when it no
    /// longer does. Stop acting as soon as it returns (for a controller, the simplest safe
    /// course is to exit and let Kubernetes restart it as a follower).
    pub async fn hold(&mut self) -> LeaseLost {
        let mut last_error = None;
        loop {
            if !self.is_leader() {
                let last_error = last_error.unwrap_or_else(|| LeaseError::Unavailable {
                    lease: self.lease.clone(),
                    message: "not renewed within the renew deadline".into(),
                });
                return LeaseLost::Deadline { last_error };
            }
            self.clock.sleep(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(LeaseState::Leader) => last_error = None,
                Ok(LeaseState::Follower { holder }) => return LeaseLost::Taken { holder },
                Err(e) => last_error = Some(e),
            }
        }
    }

    /// Gives the lease up, if this replica holds it: the holder is cleared so another replica
    /// takes over at once. Call it on a clean shutdown, after the controller has stopped
    /// acting.
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] when the lease cannot be read or written; it then expires on its own.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        self.renewed_at = None;
        let Some(mut lease) = self.call(self.api.get_opt(&self.name)).await? else { return Ok(()) };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime((self.wall)()));
        lease.spec = Some(spec);
        match self.call(self.api.replace(&self.name, &PostParams::default(), &lease)).await {
            // Someone else wrote it meanwhile: it is not ours to release any more.
            Err(e) if e.code() == Some(409) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Runs one API call within `retry_period`.
    async fn call<T>(&self, fut: impl Future<Output = Result<T, Error>>) -> Result<T, LeaseError> {
        match tokio::time::timeout(self.config.retry_period, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(Error::Api(status))) => {
                let advice = match status.code {
                    401 => "; check the client's credentials",
                    403 => "; grant the service account get, create and update on leases (see the README's RBAC)",
                    _ => "",
                };
                Err(LeaseError::Api {
                    lease: self.lease.clone(),
                    code: status.code,
                    message: status.message.clone(),
                    advice,
                })
            }
            Ok(Err(e)) => Err(LeaseError::Unavailable { lease: self.lease.clone(), message: e.to_string() }),
            Err(_) => Err(LeaseError::Unavailable {
                lease: self.lease.clone(),
                message: format!("no answer within {:?}", self.config.retry_period),
            }),
        }
    }
}
