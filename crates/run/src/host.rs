//! Facts about the host a run executes on, recorded with the run so a
//! report can say where its figures came from.

use netproof_store::HostFacts;

/// Reads hostname, kernel, OS, CPU model and count, and memory.
pub fn facts() -> HostFacts {
    let mut f = HostFacts::new();
    let read = |p: &str| std::fs::read_to_string(p).ok();
    if let Some(h) = read("/proc/sys/kernel/hostname") {
        f.insert("hostname".into(), h.trim().to_string());
    }
    if let Some(k) = read("/proc/sys/kernel/osrelease") {
        f.insert("kernel".into(), k.trim().to_string());
    }
    if let Some(os) = read("/etc/os-release")
        && let Some(line) = os.lines().find(|l| l.starts_with("PRETTY_NAME="))
    {
        let v = line.trim_start_matches("PRETTY_NAME=").trim_matches('"');
        f.insert("os".into(), v.to_string());
    }
    if let Some(cpu) = read("/proc/cpuinfo")
        && let Some(line) = cpu.lines().find(|l| l.starts_with("model name"))
        && let Some((_, v)) = line.split_once(':')
    {
        f.insert("cpu".into(), v.trim().to_string());
    }
    if let Ok(n) = std::thread::available_parallelism() {
        f.insert("cpus".into(), n.to_string());
    }
    if let Some(mem) = read("/proc/meminfo")
        && let Some(line) = mem.lines().find(|l| l.starts_with("MemTotal:"))
    {
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        f.insert(
            "memory".into(),
            netproof_sample::Unit::Bytes.format(kib * 1024.0),
        );
    }
    if let Some(cc) = read("/proc/sys/net/ipv4/tcp_congestion_control") {
        f.insert("tcp_congestion_control".into(), cc.trim().to_string());
    }
    f
}

#[cfg(test)]
mod tests {
    #[test]
    fn facts_name_the_kernel_and_cpus() {
        let f = super::facts();
        assert!(f.contains_key("kernel"));
        assert!(f.contains_key("cpus"));
    }
}
