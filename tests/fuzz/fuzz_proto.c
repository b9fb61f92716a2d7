/* The strict decoder (ledger/codec.h) for every v1 wire message on arbitrary bytes: no crash,
 * no leak, only the documented errors, and whatever it accepts re-encodes to bytes that it
 * accepts again, as the same message. */
#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include "ledger/codec.h"
#include "proto/cairn/v1/api.pb-c.h"
#include "proto/cairn/v1/block.pb-c.h"
#include "proto/cairn/v1/consensus.pb-c.h"
#include "proto/cairn/v1/tx.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const descriptors[] = {
    &cairn__v1__signed_tx__descriptor,
    &cairn__v1__tx_body__descriptor,
    &cairn__v1__block_header__descriptor,
    &cairn__v1__commit_certificate__descriptor,
    &cairn__v1__block__descriptor,
    &cairn__v1__genesis__descriptor,
    &cairn__v1__consensus_envelope__descriptor,
    &cairn__v1__checkpoint_response__descriptor,
    &cairn__v1__log_entry__descriptor,
    &cairn__v1__submit_tx_batch__descriptor, /* POST /v1/txs/batch */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const ProtobufCMessageDescriptor *d =
        descriptors[data[0] % (sizeof descriptors / sizeof descriptors[0])];
    ProtobufCMessage *m;
    int err = cairn_pb_decode(d, data + 1, size - 1, 4096, &m);
    if (err) {
        if (err != CAIRN_EDECODE && err != CAIRN_ETOOBIG) abort();
        return 0;
    }
    size_t packed = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(packed ? packed : 1);
    if (protobuf_c_message_pack(m, buf) != packed) abort();
    /* The re-encoding decodes again. */
    ProtobufCMessage *m2;
    if (cairn_pb_decode(d, buf, packed, packed, &m2) != 0) abort();
    /* Re-encoding is a fixed point: encode(decode(encode(m))) == encode(m). */
    uint8_t *buf2 = malloc(packed ? packed : 1);
    if (protobuf_c_message_get_packed_size(m2) != packed) abort();
    protobuf_c_message_pack(m2, buf2);
    if (memcmp(buf, buf2, packed) != 0) abort();
    free(buf2);
    protobuf_c_message_free_unpacked(m2, NULL);
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
