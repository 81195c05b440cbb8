#ifndef CAISSE_LIMITS_H
#define CAISSE_LIMITS_H
/* Every limit of caisse, in one place, units last in the name. Each is checked
 * where the input arrives, so the client gets the precise 4xx. */

/* HTTP server (core/http_server.c). */
#define CS_HTTP_URL_BYTES_MAX          (8u * 1024)     /* request target; 414 past it */
#define CS_HTTP_HEADER_BYTES_MAX       (16u * 1024)    /* all header names+values; 431 */
#define CS_HTTP_HEADERS_MAX            64u             /* header count; 431 */
#define CS_HTTP_BODY_BYTES_MAX         (1u << 20)      /* 413 */
#define CS_HTTP_HEADER_TIMEOUT_MS      10000u          /* whole head must arrive in this; 408 */
#define CS_HTTP_BODY_TIMEOUT_MS        30000u          /* body must arrive in this; 408 */
#define CS_HTTP_IDLE_TIMEOUT_MS        60000u          /* keep-alive idle; closed quietly */
#define CS_HTTP_CONNECTIONS_MAX        10000u          /* beyond it new ones are refused */
#define CS_HTTP_PIPELINE_BYTES_MAX     (CS_HTTP_BODY_BYTES_MAX + 64u * 1024) /* buffered unparsed input */
#define CS_SHUTDOWN_GRACE_MS           10000u          /* in-flight requests get this long */

/* Request arena (core/arena.c). */
#define CS_ARENA_CHUNK_BYTES           (16u * 1024)
#define CS_ARENA_BYTES_MAX             (8u << 20)
_Static_assert(CS_HTTP_BODY_BYTES_MAX <= CS_ARENA_BYTES_MAX, "a body fits the arena");

/* JSON input (core/json_in.c). */
#define CS_JSON_DEPTH_MAX              16u
#define CS_STRING_BYTES_MAX            1024u           /* any free-text field */
#define CS_METADATA_KEYS_MAX           50u

/* Orders (core/cmd_orders.c). */
#define CS_ORDER_LINES_MAX             200u
#define CS_ORDER_QUANTITY_MAX          100000          /* per line */
#define CS_AMOUNT_MINOR_MAX            100000000000LL  /* 1e11 minor units: 1 bn EUR; far from int64 overflow */
#define CS_REFERENCE_BYTES_MAX         64u
#define CS_SHOP_ID_BYTES_MAX           64u
#define CS_IDEMPOTENCY_KEY_BYTES_MAX   255u
#define CS_IDEMPOTENCY_TTL_S           (7 * 24 * 3600) /* at least 24 h is promised; we keep 7 days */
#define CS_IDEMPOTENCY_SWEEP_FIRST_MS  2000u           /* the first sweep, after start */
#define CS_IDEMPOTENCY_SWEEP_PERIOD_MS (3600u * 1000u) /* then hourly */
#define CS_IDEMPOTENCY_SWEEP_STEP      1000u           /* records a write command visits */

/* Lists. */
#define CS_LIST_LIMIT_DEFAULT          20u
#define CS_LIST_LIMIT_MAX              100u

/* Store (store/). */
#define CS_STORE_MAP_BYTES_INITIAL     (64ull << 20)   /* grows on demand */
#define CS_STORE_MAP_BYTES_MAX_DEFAULT (64ull << 30)
#define CS_STORE_MAX_DBS               64u
#define CS_STORE_MAX_READERS           126u
#define CS_EVENT_TYPE_BYTES_MAX        64u
#define CS_ID_BYTES_MAX                48u             /* "ord_" + 26 chars, with room */

/* Writer (core/writer.c). */
#define CS_WRITER_BATCH_MAX            1024u           /* commands in one transaction */
#define CS_WRITER_QUEUE_MAX            65536u          /* beyond it: 503 */

/* Webhooks (core/webhooks.c, core/api_webhooks.c, core/webhook_worker.c). */
#define CS_WEBHOOK_URL_BYTES_MAX       2048u
#define CS_WEBHOOK_ENDPOINTS_MAX       16u             /* per merchant and mode */
#define CS_WEBHOOK_FILTERS_MAX         64u             /* enabled_events entries */
#define CS_WEBHOOK_DESCRIPTION_BYTES_MAX 500u
#define CS_WEBHOOK_TIMEOUT_MS          10000u          /* one attempt: resolve, connect, TLS, answer */
#define CS_WEBHOOK_INFLIGHT_MAX        64u             /* attempts in flight, all endpoints */
#define CS_WEBHOOK_ENDPOINT_INFLIGHT_MAX 4u            /* per endpoint: a dead one holds at most this */
#define CS_WEBHOOK_EXCERPT_BYTES_MAX   1024u           /* response body kept in the delivery log */
#define CS_WEBHOOK_RESPONSE_HEAD_BYTES_MAX (16u * 1024) /* status line + headers we accept */
#define CS_WEBHOOK_SCAN_ROWS_MAX       10000u          /* outbox rows looked at per pass */
#define CS_WEBHOOK_POLL_MS             1000u           /* the worker looks at the outbox at least this often */
#define CS_WEBHOOK_OVERLAP_S_DEFAULT   86400           /* old secret still signs this long after a rotation */
#define CS_WEBHOOK_OVERLAP_S_MAX       (7 * 86400)
#define CS_WEBHOOK_REDELIVER_MAX       1000u           /* events one redeliver request may queue */

/* Lua (lua/). */
#define CS_LUA_INSTRUCTIONS_MAX        1000000u        /* per policy call */
#define CS_LUA_MEMORY_BYTES_MAX        (32u << 20)     /* per lua_State */
#define CS_LUA_HOOK_INSTRUCTIONS       1000u           /* count hook granularity */
#define CS_LUA_SPLIT_PARTS_MAX         1000            /* caisse.money.split: n in 1..this */
#define CS_LUA_ADD_MONTHS_MAX          120000          /* caisse.date.add_months: |k| <= 10,000 years */
#define CS_LUA_HOOK_NAME_BYTES_MAX     64
#define CS_LUA_LOG_BYTES_MAX           1024            /* one caisse.log line */
#define CS_POLICY_FILE_BYTES_MAX       (1u << 20)      /* one override file */
#define CS_POLICY_FILES_MAX            256u            /* override files in the directory */
#define CS_STORE_ACTOR_BYTES_MAX       (2u * CS_ID_BYTES_MAX) /* "api_key:<id>": a kind and an id */

#endif
