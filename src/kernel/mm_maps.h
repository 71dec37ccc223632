// mm_maps.h - the list of the application's mappings that /proc/self/maps
// shows (private to mm.cpp and mm_maps.cpp).
//
// In the identity-mapped pool nothing here decides what the application
// may touch: the list remembers what each range was mapped as (program
// segment, heap, stack, anonymous or file memory) and with which
// protection, the way Linux's VMAs would describe it. Above the identity
// map (mm_virt.cpp) it is also what says that an address is mapped.
#pragma once

#include "kernel.h"

namespace k {
// One process's list (the list of the process that runs is in globals).
struct MapsState {
    MapRun* runs;
    uint64_t count, cap;
    ProcessStart start;
    uint64_t auxv[64];
};
}  // namespace k

namespace k::maps {

// Process switches: the running process's list goes to / comes from s.
void save(MapsState* s);
void load(const MapsState* s);
// fork: s becomes a copy of the running process's list; false: no memory.
bool copy(MapsState* s);
void free_state(MapsState* s);
// The page at addr belongs to a MAP_SHARED mapping; what it is mapped as.
bool shared_at(uint64_t addr);
MapKind kind_at(uint64_t addr);
uint64_t prot_at(uint64_t addr);  // PROT_* of the page at addr (0 when unmapped)
// Some mapping overlaps [addr, addr+len) / mappings cover all of it.
bool any_in(uint64_t addr, uint64_t len);
bool covers(uint64_t addr, uint64_t len);
// One mapping (one VMA on Linux) holds all of [addr, addr+len).
bool within_one(uint64_t addr, uint64_t len);
// The highest page-aligned start of a len-byte gap between mappings inside
// [lo, hi); 0 when none.
uint64_t find_gap(uint64_t lo, uint64_t hi, uint64_t len);

// Forgets every mapping and frees the list (the host tests map afresh for
// each test; a guest boots once).
void reset();

// Reads the program's PT_LOAD segments from the boot info and records them
// (file pages as kImage, bss as kAnon). Call once from mm_init.
void init_image();
// [addr, addr+len) is now mapped as kind with prot (replacing what was
// there). kFile mappings name fd's file and start at file offset off.
void set(uint64_t addr, uint64_t len, MapKind kind, uint64_t prot, bool shared, int fd = -1,
         uint64_t off = 0);
// Changes the protection of the mapped pages in the range.
void protect(uint64_t addr, uint64_t len, uint64_t prot);
// Forgets the range (freed pages). Never allocates: mm.cpp calls it from
// release(), with the pages already free.
void clear(uint64_t addr, uint64_t len);
// Makes room for the splits of the clears that follow (call before
// releasing pages that may lie inside a mapping, as munmap does).
void prepare();
// mremap: dst (len bytes) is now mapped as src was; grown tails take the
// attributes of src's last page.
void move(uint64_t dst, uint64_t src, uint64_t old_len, uint64_t new_len);

}  // namespace k::maps
