//! The seccomp filter every tool runs under (CONTRACT §11): the system calls no snippet needs and
//! every sandbox escape of recent years went through are refused with `EPERM`.
//!
//! Refused: new namespaces and mounts (`unshare`, `setns`, `mount`, the new mount API, `clone`
//! with a namespace flag), `io_uring` (a kernel attack surface that bypasses this very filter),
//! `ptrace` and cross-process memory access, the kernel keyring, `bpf`, `perf_event_open`,
//! `userfaultfd`, `memfd_create` (an anonymous file that no tmpfs size and no address-space limit
//! would count), modules, `kexec`, swap, reboot, `acct`, `quotactl`, `syslog`, file handles.
//! `clone3` answers `ENOSYS`, not `EPERM`: its flags live in memory a filter cannot read, and
//! `ENOSYS` makes glibc fall back to `clone`, whose flags it can.
//!
//! Built with `seccompiler` (pure Rust, no libseccomp) and loaded by the tool init itself, after its
//! own setup and before the first step, so the filter is inherited by everything the tool starts.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// Calls refused whatever their arguments.
const DENIED: &[i64] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_memfd_create,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fanotify_init,
];

/// `clone` flags that would make a namespace.
const NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

/// Why the filter could not be built or loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the seccomp filter: {0}")]
pub(crate) struct FilterError(String);

fn program(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, FilterError> {
    let arch = std::env::consts::ARCH.try_into().map_err(|e| FilterError(format!("{e:?}")))?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), arch)
        .map_err(|e| FilterError(e.to_string()))?;
    filter.try_into().map_err(|e: seccompiler::BackendError| FilterError(e.to_string()))
}

/// The two programs: `EPERM` for the denied calls, `ENOSYS` for `clone3`.
pub(crate) fn programs() -> Result<[BpfProgram; 2], FilterError> {
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> = DENIED.iter().map(|n| (*n, Vec::new())).collect();
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|flag| {
            let flag = *flag as u64;
            let cond = SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(flag), flag)?;
            SeccompRule::new(vec![cond])
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FilterError(e.to_string()))?;
    denied.insert(libc::SYS_clone, clone_rules);
    let clone3 = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    Ok([program(denied, libc::EPERM)?, program(clone3, libc::ENOSYS)?])
}

/// Loads the filter on the calling thread (and so on everything it starts afterwards); sets
/// `no_new_privs`, as the kernel requires of an unprivileged caller.
pub(crate) fn load() -> Result<(), FilterError> {
    for p in programs()? {
        seccompiler::apply_filter(&p).map_err(|e| FilterError(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programs_build_for_this_machine() {
        let [denied, clone3] = programs().expect("builds");
        assert!(denied.len() > DENIED.len(), "one jump at least per denied call");
        assert!(!clone3.is_empty());
    }
}
