#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "ledger/error.h"

static const struct {
    int code, num;
    const char *name, *msg;
} all[] = {
#define XX(name, num, msg) {CAIRN_##name, num, #name, msg},
    CAIRN_ERRNO_MAP(XX)
#undef XX
};
#define N_CODES (sizeof all / sizeof all[0])

static void test_codes_are_negative_and_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        assert_int_equal(all[i].code, -all[i].num);
        assert_true(all[i].code < 0);
        for (size_t j = i + 1; j < N_CODES; j++) {
            assert_int_not_equal(all[i].code, all[j].code);
            assert_string_not_equal(all[i].name, all[j].name);
        }
    }
}

static void test_names_and_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        assert_string_equal(cairn_err_name(all[i].code), all[i].name);
        assert_string_equal(cairn_strerror(all[i].code), all[i].msg);
    }
    assert_string_equal(cairn_err_name(0), "OK");
    assert_string_equal(cairn_strerror(0), "success");
    assert_string_equal(cairn_err_name(-9999), "EUNKNOWN");
    assert_string_equal(cairn_strerror(-9999), "unknown error");
    assert_string_equal(cairn_err_name(CAIRN_ELOG_INDEX), "ELOG_INDEX");
    assert_int_equal(CAIRN_ELOG_INDEX, -300);
    assert_int_equal(CAIRN_ESTORE_VERSION, -201);
}

static void test_errno_mapping(void **state)
{
    (void)state;
    assert_int_equal(cairn_err_from_errno(0), 0);
    assert_int_equal(cairn_err_from_errno(ENOENT), CAIRN_ENOENT);
    assert_int_equal(cairn_err_from_errno(ENOMEM), CAIRN_ENOMEM);
    assert_int_equal(cairn_err_from_errno(ENOSPC), CAIRN_ENOSPC);
    assert_int_equal(cairn_err_from_errno(EPERM), CAIRN_EACCES);
    assert_int_equal(cairn_err_from_errno(EIO), CAIRN_EIO);
    assert_int_equal(cairn_err_from_errno(EXDEV), CAIRN_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_are_negative_and_unique),
        cmocka_unit_test(test_names_and_messages),
        cmocka_unit_test(test_errno_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
