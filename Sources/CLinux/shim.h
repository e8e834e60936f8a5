#ifndef SEALDROP_CLINUX_SHIM_H
#define SEALDROP_CLINUX_SHIM_H

/* Linux calls that Swift's Glibc module does not export. */

#define _GNU_SOURCE 1
#include <unistd.h>

/* Writes back every dirty page and the journal of the file system holding fd, and waits:
   one group commit for a batch of files instead of an fsync each (syncfs(2)). */
static inline int sealdrop_syncfs(int fd) {
    return syncfs(fd);
}

#endif
