#include <libpq-fe.h>

/* A notice processor that drops server notices ("relation already exists, skipping"): libpq's
   default prints them on stderr, where they would mix with dns01's own lines. */
static void dns01_pq_ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static inline void dns01_pq_silence_notices(PGconn *connection) {
    PQsetNoticeProcessor(connection, dns01_pq_ignore_notice, (void *)0);
}
