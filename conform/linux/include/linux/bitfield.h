#include "lxshim/base.h"
