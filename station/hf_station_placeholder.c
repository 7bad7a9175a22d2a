/* placeholder module removed once load/ has real code */
int hf__station_placeholder(void);
int hf__station_placeholder(void) { return 0; }
