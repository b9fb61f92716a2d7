/*
 * Strict protobuf decoding: valid messages decode; unknown fields at any depth, truncation and
 * oversize input are rejected with their specific codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "proto/cairn/v1/tx.pb-c.h"

static size_t make_tx(uint8_t *buf)
{
    Cairn__V1__TxBody body = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
    Cairn__V1__Digest d = CAIRN__V1__DIGEST__INIT;
    uint8_t dig[32] = {7}, dev[32] = {9};
    d.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    d.value = (ProtobufCBinaryData){32, dig};
    a.device_id = (ProtobufCBinaryData){32, dev};
    a.sequence = 5;
    a.data_digest = &d;
    body.chain_id = "test-chain";
    body.expiry_height = 100;
    body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    body.data_anchor = &a;
    return cairn__v1__tx_body__pack(&body, buf);
}

static void test_valid_decodes(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_tx(buf);
    ProtobufCMessage *m;
    assert_int_equal(cairn_pb_decode(&cairn__v1__tx_body__descriptor, buf, n, 1024, &m), 0);
    Cairn__V1__TxBody *b = (Cairn__V1__TxBody *)m;
    assert_string_equal(b->chain_id, "test-chain");
    assert_int_equal(b->payload_case, CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR);
    assert_int_equal(b->data_anchor->sequence, 5);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* Appends a protobuf varint. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void test_rejects_unknown_fields(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_tx(buf);
    ProtobufCMessage *m = (ProtobufCMessage *)1;
    /* Top level: field 99, varint. */
    uint8_t top[260];
    memcpy(top, buf, n);
    size_t tn = n + put_varint(top + n, 99 << 3 | 0);
    tn += put_varint(top + tn, 1);
    /* protobuf-c itself accepts it... */
    ProtobufCMessage *lenient =
        protobuf_c_message_unpack(&cairn__v1__tx_body__descriptor, NULL, tn, top);
    assert_non_null(lenient);
    protobuf_c_message_free_unpacked(lenient, NULL);
    /* ...Cairn does not. */
    assert_int_equal(cairn_pb_decode(&cairn__v1__tx_body__descriptor, top, tn, 1024, &m),
                     CAIRN_EDECODE);
    assert_null(m);

    /* Nested: an unknown field inside the DataAnchor (field 41 of TxBody). */
    Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
    a.sequence = 1;
    uint8_t inner[64];
    size_t in = cairn__v1__data_anchor__pack(&a, inner);
    in += put_varint(inner + in, 77 << 3 | 0);
    in += put_varint(inner + in, 5);
    uint8_t outer[80];
    size_t on = put_varint(outer, 41 << 3 | 2);
    on += put_varint(outer + on, in);
    memcpy(outer + on, inner, in);
    on += in;
    /* Without the unknown field the same nesting decodes. */
    uint8_t okbuf[80];
    size_t okn = put_varint(okbuf, 41 << 3 | 2);
    size_t clean = cairn__v1__data_anchor__pack(&a, inner);
    okn += put_varint(okbuf + okn, clean);
    memcpy(okbuf + okn, inner, clean);
    okn += clean;
    assert_int_equal(cairn_pb_decode(&cairn__v1__tx_body__descriptor, okbuf, okn, 1024, &m), 0);
    assert_int_equal(((Cairn__V1__TxBody *)m)->data_anchor->sequence, 1);
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(cairn_pb_decode(&cairn__v1__tx_body__descriptor, outer, on, 1024, &m),
                     CAIRN_EDECODE);

    /* Field number 0 (invalid in protobuf). */
    uint8_t zero[] = {0x02, 0x00};
    assert_int_equal(cairn_pb_decode(&cairn__v1__tx_body__descriptor, zero, 2, 1024, &m),
                     CAIRN_EDECODE);
}

static void test_rejects_truncated_and_oversize(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_tx(buf);
    ProtobufCMessage *m;
    for (size_t cut = 1; cut < n; cut++) {
        int err = cairn_pb_decode(&cairn__v1__tx_body__descriptor, buf, cut, 1024, &m);
        /* A cut may land on a field boundary and still be a valid, shorter message. */
        if (err == 0)
            protobuf_c_message_free_unpacked(m, NULL);
        else
            assert_int_equal(err, CAIRN_EDECODE);
    }
    assert_int_equal(cairn_pb_decode(&cairn__v1__tx_body__descriptor, buf, 10, 9, &m),
                     CAIRN_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_decodes),
        cmocka_unit_test(test_rejects_unknown_fields),
        cmocka_unit_test(test_rejects_truncated_and_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
