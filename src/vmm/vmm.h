// vmm.h - the public face of the VMM library: what ember-vm, emberd and the
// benchmarks use. The rest of src/vmm (KVM handles, the VM pool, guest
// memory, hypercalls, the stream host) is the library's own.
#pragma once

#include <cstddef>

#include "common/result.h"
#include "vmm/rootfs_builder.h"
#include "vmm/rootfs_cache.h"
#include "vmm/sandbox.h"
#include "vmm/snapshot.h"
#include "vmm/suspended.h"
#include "vmm/vm.h"

namespace ember {

// Opens /dev/kvm (once per process) and checks its API version: an error
// when this host cannot run microVMs.
Status check_kvm();

// KVM VMs are created ahead of need and torn down off the request path
// (vm_pool.h).
// Starts creating n VMs in the background and returns at once: a one-shot
// tool overlaps VM creation with reading its files.
void prefetch_vms(size_t n);
// Keeps n VMs ready, refilled by a background thread.
void keep_vms_ready(size_t n);
// Creates VMs until n are ready (blocking).
Status prefill_vms(size_t n);
// Makes every later VM on one thread of its own, without KVM's debugfs
// files (~60 KiB each); before the process is sandboxed (vm_pool.h).
Status create_vms_without_debugfs();

}  // namespace ember
