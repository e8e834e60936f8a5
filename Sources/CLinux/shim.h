#ifndef SEALDROP_CLINUX_SHIM_H
#define SEALDROP_CLINUX_SHIM_H

/* Linux calls that Swift's Glibc module does not export. */

#define _GNU_SOURCE 1
#include <unistd.h>
#include <fcntl.h>

/* Starts writing back fd's dirty pages without waiting (sync_file_range(2), whole file), so
   that the fsyncs of a batch's files that follow wait on writes already under way together. */
static inline int sealdrop_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* Allocates fd's blocks for its first length bytes (fallocate(2), mode 0). */
static inline int sealdrop_allocate(int fd, off_t length) {
    return fallocate(fd, 0, 0, length);
}

#endif
