#include "lxshim/bug.h"
