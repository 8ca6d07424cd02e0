/* buf.h - the byte buffer lives in the sink helper library (sinks/lib/buf.h); one copy. */
#include "../sinks/lib/buf.h"
