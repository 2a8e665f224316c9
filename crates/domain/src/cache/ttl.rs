//! A bounded map whose entries expire, with the generation ticket that keeps a read which
//! raced an invalidation from being stored.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

struct Entries<K, V> {
    map: HashMap<K, (OffsetDateTime, V)>,
    /// Bumped by every invalidation; see [`TtlCache::ticket`].
    generation: u64,
}

/// A bounded map whose entries expire `ttl` after they were stored. Cloning shares it.
pub struct TtlCache<K, V> {
    entries: Arc<Mutex<Entries<K, V>>>,
    ttl: Duration,
    capacity: usize,
}

impl<K, V> Clone for TtlCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            ttl: self.ttl,
            capacity: self.capacity,
        }
    }
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Proof that no invalidation happened since it was taken (see [`TtlCache::ticket`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache holding at most `capacity` entries for `ttl` each; a zero (or negative) TTL or
    /// capacity makes it hold nothing.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(Entries {
                map: HashMap::new(),
                generation: 0,
            })),
            ttl,
            capacity,
        }
    }

    /// A cache that holds nothing.
    pub fn disabled() -> Self {
        Self::new(Duration::ZERO, 0)
    }

    pub fn is_enabled(&self) -> bool {
        self.ttl.is_positive() && self.capacity > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        // Every critical section leaves the map consistent, so a panic elsewhere while
        // holding the lock does not make the data unusable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value stored for `key` if it has not expired at `now`.
    pub fn get(&self, key: &K, now: OffsetDateTime) -> Option<V> {
        if !self.is_enabled() {
            return None;
        }
        let mut e = self.lock();
        match e.map.get(key) {
            Some((expires, v)) if now < *expires => Some(v.clone()),
            Some(_) => {
                e.map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Take this before reading the source of truth, and hand it to [`TtlCache::insert`]:
    /// if anything was invalidated in between, the value read may predate that write and is
    /// not stored.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Stores `value` until `now + ttl`, unless an invalidation happened since `ticket`.
    /// When full, expired entries go first, then everything (a cache miss is only slower).
    pub fn insert(&self, ticket: Ticket, key: K, value: V, now: OffsetDateTime) {
        if !self.is_enabled() {
            return;
        }
        let mut e = self.lock();
        if e.generation != ticket.0 {
            return;
        }
        if e.map.len() >= self.capacity && !e.map.contains_key(&key) {
            e.map.retain(|_, (expires, _)| now < *expires);
            if e.map.len() >= self.capacity {
                e.map.clear();
            }
        }
        e.map.insert(key, (now + self.ttl, value));
    }

    /// Drops `key`.
    pub fn remove(&self, key: &K) {
        let mut e = self.lock();
        e.generation += 1;
        e.map.remove(key);
    }

    /// Drops every entry for which `stale` is true.
    pub fn remove_where(&self, mut stale: impl FnMut(&K, &V) -> bool) {
        let mut e = self.lock();
        e.generation += 1;
        e.map.retain(|k, (_, v)| !stale(k, v));
    }

    /// Changes every entry for which `matches` is true, in place: for a write whose effect
    /// on the entry is known (a session touched), so that it need not be read again.
    pub fn update_where(
        &self,
        mut matches: impl FnMut(&K, &V) -> bool,
        mut change: impl FnMut(&mut V),
    ) {
        let mut e = self.lock();
        for (k, (_, v)) in &mut e.map {
            if matches(k, v) {
                change(v);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
