/*
 * version.h — the version of masterd and its programs, one place for
 * masterd, masterctl --version and the status answer.
 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

#define MASTERD_VERSION "0.1.0"

#endif
