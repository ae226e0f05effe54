/* dispatch.c: not written yet */
