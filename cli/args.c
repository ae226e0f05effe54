/* args.c: not written yet */
