#include "lxshim/mm.h"
