/* Names the variant one shared object is built for (-DLXSHIM_VARIANT="..."). */
#ifndef LXSHIM_VARIANT
#error "build with -DLXSHIM_VARIANT=\"<hw format name>\""
#endif
const char lxshim_variant_name[] = LXSHIM_VARIANT;
