/*
 * state.h — a block's view of the authenticated state: reads fall through a write overlay to the
 * state tree at the previous version (ledger/smt.h); at the end of the block the overlay becomes
 * the next version in one cairn_smt_apply. Read-your-writes within the block; nothing reaches the
 * tree until cairn_state_commit.
 *
 * A cairn_state belongs to one write transaction and one thread. Pointers returned by
 * cairn_state_get stay valid until the next cairn_state_put or the state's end. Records read
 * from the base version are copied once and served from memory for the rest of the block (the
 * base version is immutable), so a record many transactions read costs one tree lookup.
 */
#ifndef CAIRN_LEDGER_STATE_H
#define CAIRN_LEDGER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/records.h"
#include "ledger/store.h"

typedef struct cairn_state cairn_state;

/* Starts a view over version base (has_base = 0 for the very first version, an empty tree). */
CAIRN_MUST_CHECK int cairn_state_begin(cairn_state **out, cairn_txn *t, int has_base,
                                       uint64_t base);
void cairn_state_free(cairn_state *s);

/* Raw access by state key. CAIRN_ENOENT if absent. */
CAIRN_MUST_CHECK int cairn_state_get(cairn_state *s, const uint8_t key[32], const uint8_t **val,
                                     size_t *len);
CAIRN_MUST_CHECK int cairn_state_put(cairn_state *s, const uint8_t key[32], const uint8_t *val,
                                     size_t len);

/* Writes every change as version `version` and returns the new root. */
CAIRN_MUST_CHECK int cairn_state_commit(cairn_state *s, uint64_t version, uint8_t root[32]);

/* Typed records, by id (the state key is cairn_rec_key(kind, id)). CAIRN_ENOENT if absent. */
CAIRN_MUST_CHECK int cairn_state_get_org(cairn_state *s, const uint8_t id[32], cairn_org *o);
CAIRN_MUST_CHECK int cairn_state_put_org(cairn_state *s, const cairn_org *o);
CAIRN_MUST_CHECK int cairn_state_get_device(cairn_state *s, const uint8_t id[32], cairn_device *d);
CAIRN_MUST_CHECK int cairn_state_put_device(cairn_state *s, const cairn_device *d);
CAIRN_MUST_CHECK int cairn_state_get_firmware(cairn_state *s, const uint8_t id[32],
                                              cairn_firmware *f);
CAIRN_MUST_CHECK int cairn_state_put_firmware(cairn_state *s, const cairn_firmware *f);
CAIRN_MUST_CHECK int cairn_state_get_validator(cairn_state *s, const uint8_t id[32],
                                               cairn_validator *v);
CAIRN_MUST_CHECK int cairn_state_put_validator(cairn_state *s, const cairn_validator *v);
CAIRN_MUST_CHECK int cairn_state_get_gov_proposal(cairn_state *s, const uint8_t id[32],
                                                  cairn_gov_proposal *p);
CAIRN_MUST_CHECK int cairn_state_put_gov_proposal(cairn_state *s, const cairn_gov_proposal *p);
CAIRN_MUST_CHECK int cairn_state_get_policy(cairn_state *s, cairn_policy *p);
CAIRN_MUST_CHECK int cairn_state_put_policy(cairn_state *s, const cairn_policy *p);
/* Small fixed-size records: a 32-byte id (FW_DIGEST -> release id) or a u64 (FW_LINE). */
CAIRN_MUST_CHECK int cairn_state_get_id(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32],
                                        uint8_t out[32]);
CAIRN_MUST_CHECK int cairn_state_put_id(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32],
                                        const uint8_t val[32]);
CAIRN_MUST_CHECK int cairn_state_get_u64(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32],
                                         uint64_t *out);
CAIRN_MUST_CHECK int cairn_state_put_u64(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32],
                                         uint64_t val);

#endif
