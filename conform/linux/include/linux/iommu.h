#include "lxshim/iommu.h"
