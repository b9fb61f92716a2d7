#include "ledger/pbjson.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/hex.h"

static json_t *hex_json(const ProtobufCBinaryData *b)
{
    char *h = malloc(2 * b->len + 1);
    if (!h) return NULL;
    cairn_hex_encode(h, b->data, b->len);
    json_t *s = json_string(h);
    free(h);
    return s;
}

json_t *cairn_pb_to_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *)m;
    json_t *o = json_object();
    for (unsigned i = 0; o && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_BYTES) goto fail;
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const ProtobufCBinaryData *arr = *(ProtobufCBinaryData *const *)p;
            v = json_array();
            for (size_t k = 0; v && k < n; k++) json_array_append_new(v, hex_json(&arr[k]));
        } else {
            switch (f->type) {
            case PROTOBUF_C_TYPE_UINT32:
                v = json_integer(*(const uint32_t *)p);
                break;
            case PROTOBUF_C_TYPE_INT32:
            case PROTOBUF_C_TYPE_ENUM:
                v = json_integer(*(const int32_t *)p);
                break;
            case PROTOBUF_C_TYPE_UINT64:
                v = json_integer((json_int_t) * (const uint64_t *)p);
                break;
            case PROTOBUF_C_TYPE_BOOL:
                v = json_boolean(*(const protobuf_c_boolean *)p);
                break;
            case PROTOBUF_C_TYPE_STRING:
                v = json_string(*(char *const *)p ? *(char *const *)p : "");
                break;
            case PROTOBUF_C_TYPE_BYTES:
                v = hex_json((const ProtobufCBinaryData *)p);
                break;
            default:
                goto fail;
            }
        }
        if (!v || json_object_set_new(o, f->name, v) != 0) goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static int hex_field(json_t *v, ProtobufCBinaryData *b)
{
    const char *s = json_string_value(v);
    if (!s) return CAIRN_EJSON;
    size_t len = strlen(s), got;
    b->data = malloc(len / 2 + 1);
    if (!b->data) return CAIRN_ENOMEM;
    int err = cairn_hex_decode(b->data, len / 2 + 1, &got, s, len);
    b->len = err ? 0 : got;
    return err;
}

int cairn_pb_from_json(const ProtobufCMessageDescriptor *d, json_t *obj, ProtobufCMessage **out)
{
    *out = NULL;
    if (!json_is_object(obj)) return CAIRN_EJSON;
    /* Unknown keys are errors. */
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        if (!protobuf_c_message_descriptor_get_field_by_name(d, key)) return CAIRN_EJSON;
    }
    /* Build a binary encoding field by field, then decode it strictly: the message memory is
     * then owned by protobuf-c's allocator as usual. */
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (!m) return CAIRN_ENOMEM;
    d->message_init(m);
    uint8_t *base = (uint8_t *)m;
    int err = 0;
    for (unsigned i = 0; i < d->n_fields && !err; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v = json_object_get(obj, f->name);
        if (!v) continue;
        void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_BYTES || !json_is_array(v)) {
                err = CAIRN_EJSON;
                break;
            }
            size_t n = json_array_size(v);
            ProtobufCBinaryData *arr = calloc(n ? n : 1, sizeof *arr);
            if (!arr) {
                err = CAIRN_ENOMEM;
                break;
            }
            *(ProtobufCBinaryData **)p = arr;
            *(size_t *)(base + f->quantifier_offset) = n;
            for (size_t k = 0; k < n && !err; k++) err = hex_field(json_array_get(v, k), &arr[k]);
            continue;
        }
        switch (f->type) {
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_UINT64:
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                (f->type == PROTOBUF_C_TYPE_UINT32 && json_integer_value(v) > UINT32_MAX)) {
                err = CAIRN_EJSON;
            } else if (f->type == PROTOBUF_C_TYPE_UINT32) {
                *(uint32_t *)p = (uint32_t)json_integer_value(v);
            } else {
                *(uint64_t *)p = (uint64_t)json_integer_value(v);
            }
            break;
        case PROTOBUF_C_TYPE_STRING:
            if (!json_is_string(v)) {
                err = CAIRN_EJSON;
            } else {
                char *s = strdup(json_string_value(v));
                if (!s) err = CAIRN_ENOMEM;
                *(char **)p = s;
            }
            break;
        case PROTOBUF_C_TYPE_BYTES:
            err = hex_field(v, (ProtobufCBinaryData *)p);
            break;
        default:
            err = CAIRN_EJSON;
        }
    }
    /* Round-trip through the encoding so the result is an ordinary unpacked message. */
    size_t len = err ? 0 : protobuf_c_message_get_packed_size(m);
    uint8_t *buf = err ? NULL : malloc(len ? len : 1);
    if (!err && !buf) err = CAIRN_ENOMEM;
    if (!err) protobuf_c_message_pack(m, buf);
    /* Free our hand-built message (strings, bytes and arrays came from malloc). */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            ProtobufCBinaryData *arr = *(ProtobufCBinaryData **)p;
            size_t n = *(size_t *)(base + f->quantifier_offset);
            for (size_t k = 0; arr && k < n; k++) free(arr[k].data);
            free(arr);
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            char *s = *(char **)p;
            if (s && s != protobuf_c_empty_string) free(s);
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            free(((ProtobufCBinaryData *)p)->data);
        }
    }
    free(m);
    if (!err) err = cairn_pb_decode(d, buf, len, len, out);
    free(buf);
    return err == CAIRN_EHEX ? CAIRN_EJSON : err;
}
