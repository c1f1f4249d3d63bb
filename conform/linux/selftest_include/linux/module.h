/* MODULE_LICENSE and MODULE_DESCRIPTION (lxshim/base.h), for KUnit test files. */
#include <linux/kernel.h>
