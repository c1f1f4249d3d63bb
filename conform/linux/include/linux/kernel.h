#include "lxshim/base.h"
#include "lxshim/bug.h"
