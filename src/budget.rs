//! What anonymous clients may hold open at once: bytes of request bodies still arriving, and
//! connections. A client that stalls a body or opens sockets by the hundred spends its own share,
//! not the memory or the file descriptors everyone else needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::client_key::ClientKey;

/// A body this small (a donate form, nearly every webhook) may use the reserve that larger
/// ones leave free.
pub const SMALL_BODY: usize = 16 << 10;

/// Bytes of request bodies that have arrived for requests not yet answered.
///
/// Three shares bound them: the process's total, each client's, and each network's (an IPv4
/// /24 or IPv6 /48, an eighth of the total), so the hundreds of addresses of one network cannot
/// fill the total for everyone. Bodies larger than [`SMALL_BODY`] may use only three quarters
/// of the total: the last quarter is kept for small ones, so a reader's form and Stripe's
/// webhooks still get through while large uploads stall from many networks.
pub struct BodyBudget {
    max_total: usize,
    max_per_client: usize,
    max_per_network: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_client: HashMap<ClientKey, usize>,
    by_network: HashMap<ClientKey, usize>,
}

fn network(client: ClientKey) -> ClientKey {
    client.network(24, 48)
}

impl BodyBudget {
    pub fn new(max_total: usize, max_per_client: usize) -> BodyBudget {
        BodyBudget {
            max_total,
            max_per_client,
            // A network holds at least what one of its clients may.
            max_per_network: (max_total / 8).max(max_per_client).min(max_total),
            held: Mutex::default(),
        }
    }

    /// Takes `n` more bytes for `client`; `false` (taking nothing) when that would pass the
    /// process's, the client's or its network's share, or dip into the small bodies' reserve.
    pub fn take(&self, client: ClientKey, n: usize) -> bool {
        let Ok(mut held) = self.held.lock() else {
            return false;
        };
        let net = network(client);
        let mine = held.by_client.get(&client).copied().unwrap_or(0);
        let ours = held.by_network.get(&net).copied().unwrap_or(0);
        let total_cap = if n > SMALL_BODY {
            self.max_total - self.max_total / 4
        } else {
            self.max_total
        };
        let fits = held.total.saturating_add(n) <= total_cap
            && mine.saturating_add(n) <= self.max_per_client
            && ours.saturating_add(n) <= self.max_per_network;
        if fits {
            held.total += n;
            held.by_client.insert(client, mine + n);
            held.by_network.insert(net, ours + n);
        }
        fits
    }

    /// Gives back `n` bytes `client` held (its request was answered or dropped).
    pub fn give_back(&self, client: ClientKey, n: usize) {
        if n == 0 {
            return;
        }
        if let Ok(mut held) = self.held.lock() {
            held.total = held.total.saturating_sub(n);
            release(&mut held.by_client, client, n);
            release(&mut held.by_network, network(client), n);
        }
    }

    /// Bytes held now, and by how many clients.
    pub fn held(&self) -> (usize, usize) {
        self.held.lock().map_or((0, 0), |h| (h.total, h.by_client.len()))
    }
}

fn release(held: &mut HashMap<ClientKey, usize>, key: ClientKey, n: usize) {
    if let Some(mine) = held.get_mut(&key) {
        *mine = mine.saturating_sub(n);
        if *mine == 0 {
            held.remove(&key);
        }
    }
}

/// Open connections per client.
pub struct ConnectionSlots {
    max_per_client: usize,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One open connection, counted until it is dropped (with the connection).
pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    client: ClientKey,
    /// The client had its share open already: requests on this connection are refused.
    pub over: bool,
}

impl ConnectionSlots {
    pub fn new(max_per_client: usize) -> Arc<ConnectionSlots> {
        Arc::new(ConnectionSlots {
            max_per_client,
            open: Mutex::default(),
        })
    }

    pub fn open(self: &Arc<Self>, client: ClientKey) -> ConnectionSlot {
        let over = self.open.lock().is_ok_and(|mut open| {
            let n = open.entry(client).or_default();
            *n += 1;
            *n > self.max_per_client
        });
        ConnectionSlot {
            slots: Arc::clone(self),
            client,
            over,
        }
    }

    /// Clients with a connection open now.
    pub fn clients(&self) -> usize {
        self.open.lock().map_or(0, |o| o.len())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock()
            && let Some(n) = open.get_mut(&self.client)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Raises the soft limit of open files to the hard limit, so that a burst of connections meets
/// the kernel's real limit rather than the usual soft 1,024 (`accept` failing for everyone).
/// Returns the (soft, hard) limits before, or `None` where they cannot be read.
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let before = (limit.rlim_cur, limit.rlim_max);
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we pass; raising the soft limit up to the hard
        // one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            tracing::warn!("the open-files limit could not be raised");
        }
    }
    Some(before)
}

/// Gives memory the allocator holds free back to the system. glibc keeps what a burst of
/// connections freed (their read buffers) in its arenas, so a process that survived a flood of
/// uploads would otherwise stay at its peak; this runs every minute.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointer of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u8) -> ClientKey {
        ClientKey::from(std::net::IpAddr::from([192, 0, 2, n]))
    }

    fn in_network(net: u8, n: u8) -> ClientKey {
        ClientKey::from(std::net::IpAddr::from([198, 51, net, n]))
    }

    #[test]
    fn a_client_cannot_hold_more_than_its_share_nor_all_of_them_more_than_the_total() {
        let budget = BodyBudget::new(100, 40);
        assert!(budget.take(client(1), 40));
        assert!(!budget.take(client(1), 1), "its share is full");
        budget.give_back(client(1), 40);
        let (a, b, c) = (in_network(1, 1), in_network(2, 1), in_network(3, 1));
        assert!(budget.take(a, 40));
        assert!(budget.take(b, 40));
        assert!(!budget.take(c, 21), "the total is full");
        assert!(budget.take(c, 20));
        assert_eq!(budget.held(), (100, 3));
        budget.give_back(a, 40);
        assert!(budget.take(a, 10));
        budget.give_back(a, 10);
        budget.give_back(b, 40);
        budget.give_back(c, 20);
        assert_eq!(budget.held(), (0, 0), "nothing is left behind");
    }

    #[test]
    fn the_addresses_of_one_network_hold_an_eighth_of_the_total_together() {
        let budget = BodyBudget::new(8 << 20, 1 << 20);
        let big = 256 << 10;
        let taken = (1..=250).filter(|n| budget.take(in_network(1, *n), big)).count();
        assert_eq!(taken, 4, "an eighth of 8 MiB in 256 KiB bodies");
        assert!(
            budget.take(in_network(2, 1), big),
            "another network is not held up"
        );
    }

    #[test]
    fn large_bodies_from_many_networks_leave_a_quarter_for_small_ones() {
        let budget = BodyBudget::new(8 << 20, 1 << 20);
        let big = 256 << 10;
        let taken = (1..=250)
            .flat_map(|net| (1..=8).map(move |n| in_network(net, n)))
            .filter(|c| budget.take(*c, big))
            .count();
        assert_eq!(taken, 24, "three quarters of 8 MiB in 256 KiB bodies");
        assert!(!budget.take(client(1), SMALL_BODY + 1), "a larger one waits");
        assert!(budget.take(client(1), SMALL_BODY), "a small body fits");
    }

    #[test]
    fn connections_past_a_clients_share_are_marked_and_counted_until_dropped() {
        let slots = ConnectionSlots::new(2);
        let a = slots.open(client(1));
        let b = slots.open(client(1));
        let c = slots.open(client(1));
        let other = slots.open(client(2));
        assert_eq!((a.over, b.over, c.over, other.over), (false, false, true, false));
        drop(c);
        drop(a);
        assert!(!slots.open(client(1)).over, "a slot came free");
        drop((b, other));
        assert_eq!(slots.clients(), 0);
    }

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        let (_, hard) = raise_open_files_limit().expect("getrlimit works");
        let (soft_after, hard_after) = raise_open_files_limit().unwrap();
        assert_eq!((soft_after, hard_after), (hard, hard));
    }
}
