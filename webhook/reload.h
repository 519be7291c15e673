/*
 * reload.h - the certificate pair and the policy file, loaded at start and
 * re-read whenever their files change, by a thread of their own.
 *
 * A file's signature (inode, size, mtime, ctime, mode; stat() follows a
 * Secret's or ConfigMap's "..data" symlink swap) is checked every
 * --reload-interval; SIGHUP (reload_now()) re-reads both at once whatever
 * their signature. A new file that does not load is logged and counted,
 * and the previous certificate or policy stays. The reload thread is not
 * the main thread, which sweeps connection deadlines, nor a worker: a
 * policy of ten thousand rules that takes a quarter of a second to load
 * delays neither; the new policy is swapped in under a lock held only for
 * the swap.
 */
#ifndef RELOAD_H
#define RELOAD_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

struct metrics;
struct policy;
struct server_config;

/* What identifies a file's content without reading it; a kubelet "..data"
 * symlink swap changes the inode that stat() reaches. Mode and ctime too:
 * a load that failed is tried again after any change, a chmod included
 * (ctime also moves when content is rewritten with the mtime put back). */
struct file_sig {
    dev_t dev;
    ino_t ino;
    mode_t mode;
    off_t size;
    struct timespec mtime, ctime;
};

struct reload {
    const struct server_config *cfg;    /* borrowed: cert_file, key_file, policy_file, reload_interval_ms */
    struct metrics *metrics;            /* borrowed: the reload counters */
    struct file_sig cert_sig, key_sig, policy_sig;  /* of the last try; only the reload thread's */
    pthread_mutex_t policy_lock;        /* guards the swap of policy, not its use */
    struct policy *policy;              /* one reference; NULL: built-in settings */
    pthread_mutex_t lock;               /* guards asked and stop */
    pthread_cond_t wake;                /* CLOCK_MONOTONIC */
    int asked;                          /* 1: reload_now() was called */
    int stop;
    pthread_t thread;
    int running;
};

/* Loads the certificate pair and the policy for the first time. Returns 0,
 * or -1 when either does not load (the reason is logged); rl is then
 * released. */
int reload_init(struct reload *rl, const struct server_config *cfg, struct metrics *metrics);

/* Starts the thread that checks the files every cfg->reload_interval_ms.
 * Returns 0 or -1. */
int reload_start(struct reload *rl);

/* Asks the thread to re-read both files now, whatever their signature
 * (SIGHUP); returns at once. */
void reload_now(struct reload *rl);

/* A reference to the policy in force (NULL: the built-in one), for one
 * request: the caller releases it with policy_unref(). A reload swaps the
 * policy meanwhile; the old one lives until its last holder lets go. */
struct policy *reload_policy_ref(struct reload *rl);

/* Stops the thread (if started) and releases the policy and the TLS
 * credentials. */
void reload_release(struct reload *rl);

#endif
