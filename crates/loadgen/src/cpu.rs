//! Where the CPU goes while the swarm runs: the time used by named process trees (nginx
//! and its workers, the replicas, PostgreSQL and its backends), by this load generator, and
//! by the whole machine, read from `/proc` at the edges of each phase. On a shared machine the
//! machine's figure tells how much others took meanwhile.

use std::collections::HashMap;

/// Clock ticks per second of `/proc` times (USER_HZ on Linux).
const HZ: f64 = 100.0;

/// A named group of process trees: `name=pid[+pid...]` on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The figure's name part, e.g. `nginx`.
    pub name: String,
    /// The roots; each root's descendants count too.
    pub roots: Vec<u32>,
}

/// Parses `nginx=12,replicas=34+35` (empty: no group); None when malformed.
pub fn parse_groups(s: &str) -> Option<Vec<Group>> {
    s.split(',')
        .filter(|g| !g.is_empty())
        .map(|g| {
            let (name, pids) = g.split_once('=')?;
            let roots = pids
                .split('+')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            (!name.is_empty() && !roots.is_empty()).then(|| Group {
                name: name.into(),
                roots,
            })
        })
        .collect()
}

/// CPU seconds used so far, per group, by this process, and by the machine (all cores).
#[derive(Clone, Debug, Default)]
pub struct Sample {
    groups: Vec<f64>,
    own: f64,
    machine: f64,
    at: Option<std::time::Instant>,
}

/// One process's parent and CPU ticks: its own (user + system) and those of its children
/// that ended and were waited for, which a tree would otherwise lose.
fn processes() -> HashMap<u32, (u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (ppid, own, children) = stat(&format!("/proc/{pid}/stat"))?;
            Some((pid, (ppid, own + children)))
        })
        .collect()
}

/// `(ppid, utime + stime, cutime + cstime)` from a `stat` file.
fn stat(path: &str) -> Option<(u32, u64, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let f: Vec<&str> = s[s.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |i: usize, j: usize| -> Option<u64> {
        Some(f.get(i)?.parse::<u64>().ok()? + f.get(j)?.parse::<u64>().ok()?)
    };
    Some((f.get(1)?.parse().ok()?, ticks(11, 12)?, ticks(13, 14)?))
}

/// The machine's busy time in seconds (all cores; idle and iowait left out).
fn machine_busy() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let idle = v.get(3)? + v.get(4)?;
    Some((v.iter().sum::<u64>() - idle) as f64 / HZ)
}

/// The ticks of `roots` and everything below them.
fn tree_ticks(procs: &HashMap<u32, (u32, u64)>, roots: &[u32]) -> u64 {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &(ppid, _)) in procs {
        children.entry(ppid).or_default().push(pid);
    }
    let mut total = 0;
    let mut todo: Vec<u32> = roots.to_vec();
    let mut seen = std::collections::HashSet::new();
    while let Some(pid) = todo.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(&(_, t)) = procs.get(&pid) {
            total += t;
        }
        todo.extend(children.get(&pid).into_iter().flatten());
    }
    total
}

impl Sample {
    /// Reads the groups' times, this process's and the machine's now.
    pub fn take(groups: &[Group]) -> Sample {
        let procs = processes();
        Sample {
            groups: groups
                .iter()
                .map(|g| tree_ticks(&procs, &g.roots) as f64 / HZ)
                .collect(),
            own: stat("/proc/self/stat").map_or(0.0, |(_, t, _)| t as f64 / HZ),
            machine: machine_busy().unwrap_or(0.0),
            at: Some(std::time::Instant::now()),
        }
    }
}

/// CPU used from `a` to `b`: per group, this process, the rest of the machine (what others
/// used), as seconds and as percent of one core.
pub struct Spent {
    /// `(name, seconds)`: the groups, `loadgen`, then `rest` of the machine.
    pub seconds: Vec<(String, f64)>,
    /// The span's length in seconds.
    pub wall: f64,
}

/// What was spent between two samples.
pub fn spent(groups: &[Group], a: &Sample, b: &Sample) -> Spent {
    let mut seconds: Vec<(String, f64)> = groups
        .iter()
        .zip(a.groups.iter().zip(&b.groups))
        .map(|(g, (x, y))| (g.name.clone(), (y - x).max(0.0)))
        .collect();
    seconds.push(("loadgen".into(), (b.own - a.own).max(0.0)));
    let ours: f64 = seconds.iter().map(|(_, s)| s).sum();
    seconds.push(("rest".into(), (b.machine - a.machine - ours).max(0.0)));
    let wall = match (a.at, b.at) {
        (Some(x), Some(y)) => y.duration_since(x).as_secs_f64(),
        _ => 0.0,
    };
    Spent { seconds, wall }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_groups_of_pids() {
        assert_eq!(
            parse_groups("nginx=12,replicas=34+35"),
            Some(vec![
                Group {
                    name: "nginx".into(),
                    roots: vec![12]
                },
                Group {
                    name: "replicas".into(),
                    roots: vec![34, 35]
                },
            ])
        );
        assert_eq!(parse_groups(""), Some(vec![]));
        assert_eq!(parse_groups("nginx"), None);
        assert_eq!(parse_groups("nginx=x"), None);
        assert_eq!(parse_groups("=12"), None);
    }

    /// A child that burns CPU counts for the tree of its parent (this process), and the
    /// time of this process counts as the load generator's.
    #[test]
    fn a_busy_child_counts_for_its_tree() {
        let me = vec![Group {
            name: "me".into(),
            roots: vec![std::process::id()],
        }];
        let a = Sample::take(&me);
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done"])
            .spawn()
            .expect("sh runs");
        // Spins until this process has used 0.2 s of CPU (however long a loaded machine
        // makes that take).
        let own_now = || stat("/proc/self/stat").map_or(0, |(_, t, _)| t);
        let from = own_now();
        let mut x = 0u64;
        while own_now() < from + 20 {
            for _ in 0..100_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
        }
        child.wait().expect("sh ends");
        let b = Sample::take(&me);
        let s = spent(&me, &a, &b);
        let get = |n: &str| s.seconds.iter().find(|(m, _)| m == n).map(|x| x.1);
        let own = get("loadgen").unwrap();
        let tree = get("me").unwrap();
        assert!(own >= 0.2, "this process spun 0.2 s: {own}");
        assert!(
            tree >= own + 0.05,
            "the waited-for child counts for the tree: {tree} vs {own}"
        );
        assert!(s.wall >= 0.2);
        assert!(x > 0);
    }
}
