/*
 * reload.c - the certificate pair and the policy file, re-read on change
 * by a thread of their own (see reload.h).
 */
#include "webhook/reload.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mutators/policy.h"
#include "webhook/log.h"
#include "webhook/metrics.h"
#include "webhook/policyfile.h"
#include "webhook/server.h"
#include "webhook/tls.h"

#define RELOAD_ERR_MAX 512

static void file_sig(const char *path, struct file_sig *sig)
{
    struct stat st;

    memset(sig, 0, sizeof(*sig));
    if (stat(path, &st) == 0) {
        sig->dev = st.st_dev;
        sig->ino = st.st_ino;
        sig->mode = st.st_mode;
        sig->size = st.st_size;
        sig->mtime = st.st_mtim;
        sig->ctime = st.st_ctim;
    }
}

static int sig_differs(const struct file_sig *a, const struct file_sig *b)
{
    return a->dev != b->dev || a->ino != b->ino || a->mode != b->mode || a->size != b->size ||
           a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec ||
           a->ctime.tv_sec != b->ctime.tv_sec || a->ctime.tv_nsec != b->ctime.tv_nsec;
}

/* Loads the certificate pair when either file changed since the last try
 * (or always, when force: the first load and SIGHUP); stat() follows a
 * Secret volume's "..data" symlink swap to the new files. Only regular
 * files are read, never blocking (tls.c). A pair that does not load is
 * logged and counted (unless it is the first: the caller then stops), and
 * the previous pair stays. */
static void load_certs(struct reload *rl, int first, int force)
{
    struct file_sig cert, key;
    char err[RELOAD_ERR_MAX];

    file_sig(rl->cfg->cert_file, &cert);
    file_sig(rl->cfg->key_file, &key);
    if (!first && !force && !sig_differs(&cert, &rl->cert_sig) && !sig_differs(&key, &rl->key_sig))
        return;
    rl->cert_sig = cert;
    rl->key_sig = key;
    if (tls_load(rl->cfg->cert_file, rl->cfg->key_file, err, sizeof(err)) < 0) {
        if (!first)
            metrics_cert_reload(rl->metrics, 0);
        LOG(LOG_ERROR, first ? "certificate: %s" : "certificate reload: %s; keeping the previous one", err);
        return;
    }
    if (!first) {
        metrics_cert_reload(rl->metrics, 1);
        LOG(LOG_INFO, "certificate reloaded from %s", rl->cfg->cert_file);
    }
    atomic_store(&rl->metrics->cert_not_after, (long long)tls_not_after());
}

/* Loads the policy file when it changed since the last try (or always,
 * when force); stat() follows a ConfigMap's "..data" symlink swap to the
 * new file. An invalid new file is logged and counted, and the previous
 * policy kept. Returns -1 only when the first load fails. */
static int load_policy(struct reload *rl, int first, int force)
{
    struct policy *p, *old;
    struct file_sig sig;
    char err[POLICYFILE_MAX_ERROR];      /* every problem of the file, one line */

    if (!rl->cfg->policy_file)
        return 0;
    file_sig(rl->cfg->policy_file, &sig);
    if (!first && !force && !sig_differs(&sig, &rl->policy_sig))
        return 0;
    rl->policy_sig = sig;
    p = policyfile_load(rl->cfg->policy_file, err, sizeof(err));
    if (!p && first) {
        LOG(LOG_ERROR, "cannot serve with an invalid policy: %s", err);
        return -1;
    }
    if (!p) {
        metrics_policy_reload(rl->metrics, 0);
        LOG(LOG_ERROR, "policy reload: %s; keeping the previous policy", err);
        return 0;
    }
    pthread_mutex_lock(&rl->policy_lock);
    old = rl->policy;
    rl->policy = p;
    pthread_mutex_unlock(&rl->policy_lock);
    policy_unref(old);
    /* the old policy's memory went back to this thread's malloc arena,
     * from which nothing else allocates between reloads: return it */
    malloc_trim(0);
    if (!first) {
        metrics_policy_reload(rl->metrics, 1);
        LOG(LOG_INFO, "policy reloaded from %s", rl->cfg->policy_file);
    }
    return 0;
}

/* The reload thread: checks the files every --reload-interval, or at once
 * when asked (SIGHUP). A load runs without any lock the serving threads
 * take; only the policy's swap takes policy_lock. */
static void *reload_loop(void *arg)
{
    struct reload *rl = arg;
    struct timespec due;
    unsigned ms = rl->cfg->reload_interval_ms ? rl->cfg->reload_interval_ms : 1;
    int force;

    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &due);
        due.tv_sec += ms / 1000;
        due.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (due.tv_nsec >= 1000000000L)
            due.tv_sec++, due.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&rl->lock);
        while (!rl->asked && !rl->stop && pthread_cond_timedwait(&rl->wake, &rl->lock, &due) == 0)
            ;
        force = rl->asked;
        rl->asked = 0;
        if (rl->stop) {
            pthread_mutex_unlock(&rl->lock);
            return NULL;
        }
        pthread_mutex_unlock(&rl->lock);
        load_certs(rl, 0, force);
        load_policy(rl, 0, force);
    }
}

int reload_init(struct reload *rl, const struct server_config *cfg, struct metrics *metrics)
{
    pthread_condattr_t attr;

    memset(rl, 0, sizeof(*rl));
    rl->cfg = cfg;
    rl->metrics = metrics;
    pthread_mutex_init(&rl->policy_lock, NULL);
    pthread_mutex_init(&rl->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&rl->wake, &attr);
    pthread_condattr_destroy(&attr);
    load_certs(rl, 1, 1);
    if (!tls_not_after()) {
        LOG(LOG_ERROR, "cannot serve without a certificate: see the error above");
        reload_release(rl);
        return -1;
    }
    if (load_policy(rl, 1, 1) < 0) {
        reload_release(rl);
        return -1;
    }
    return 0;
}

int reload_start(struct reload *rl)
{
    if (pthread_create(&rl->thread, NULL, reload_loop, rl) != 0)
        return -1;
    rl->running = 1;
    return 0;
}

void reload_now(struct reload *rl)
{
    pthread_mutex_lock(&rl->lock);
    rl->asked = 1;
    pthread_cond_signal(&rl->wake);
    pthread_mutex_unlock(&rl->lock);
}

struct policy *reload_policy_ref(struct reload *rl)
{
    struct policy *p;

    pthread_mutex_lock(&rl->policy_lock);
    p = policy_ref(rl->policy);
    pthread_mutex_unlock(&rl->policy_lock);
    return p;
}

void reload_release(struct reload *rl)
{
    if (rl->running) {
        pthread_mutex_lock(&rl->lock);
        rl->stop = 1;
        pthread_cond_signal(&rl->wake);
        pthread_mutex_unlock(&rl->lock);
        pthread_join(rl->thread, NULL);
        rl->running = 0;
    }
    tls_release();
    policy_unref(rl->policy);
    rl->policy = NULL;
    pthread_mutex_destroy(&rl->policy_lock);
    pthread_mutex_destroy(&rl->lock);
    pthread_cond_destroy(&rl->wake);
}
