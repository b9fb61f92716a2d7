#include "ledger/error.h"

#include <errno.h>

const char *cairn_strerror(int err)
{
    switch (err) {
    case CAIRN_OK:
        return "success";
#define CAIRN_XX_MSG(name, num, msg)                                                               \
    case CAIRN_##name:                                                                             \
        return msg;
        CAIRN_ERRNO_MAP(CAIRN_XX_MSG)
#undef CAIRN_XX_MSG
    default:
        return "unknown error";
    }
}

const char *cairn_err_name(int err)
{
    switch (err) {
    case CAIRN_OK:
        return "OK";
#define CAIRN_XX_NAME(name, num, msg)                                                              \
    case CAIRN_##name:                                                                             \
        return #name;
        CAIRN_ERRNO_MAP(CAIRN_XX_NAME)
#undef CAIRN_XX_NAME
    default:
        return "EUNKNOWN";
    }
}

int cairn_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return CAIRN_OK;
    case ENOMEM:
        return CAIRN_ENOMEM;
    case ENOENT:
        return CAIRN_ENOENT;
    case EEXIST:
        return CAIRN_EEXIST;
    case ENOSPC:
        return CAIRN_ENOSPC;
    case EACCES:
    case EPERM:
        return CAIRN_EACCES;
    case EINVAL:
        return CAIRN_EINVAL;
    case ERANGE:
        return CAIRN_ERANGE;
    case EAGAIN:
        return CAIRN_EAGAIN;
    case EBUSY:
        return CAIRN_EBUSY;
    default:
        return CAIRN_EIO;
    }
}
