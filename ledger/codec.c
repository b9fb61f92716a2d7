#include "ledger/codec.h"

int cairn_pb_has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields) return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (arr[k] && cairn_pb_has_unknown(arr[k])) return 1;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which != f->id) continue;
        }
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        if (sub && cairn_pb_has_unknown(sub)) return 1;
    }
    return 0;
}

int cairn_pb_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                    size_t max_len, ProtobufCMessage **out)
{
    *out = NULL;
    if (len > max_len) return CAIRN_ETOOBIG;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m) return CAIRN_EDECODE;
    if (cairn_pb_has_unknown(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return CAIRN_EDECODE;
    }
    *out = m;
    return 0;
}
