"""Live capture: interfaces, privileges, capture processes, and the feeds that stream rows.

``interfaces`` lists what can be captured, ``privileges`` says whether this process may,
``bpf`` compiles capture filters with libpcap, ``capturer`` is the process that reads packets
into a pcap file, ``session`` follows one capture (process, incremental index, stop), and
``feed`` fans new rows out to server-sent-event subscribers, each with a bounded queue.
"""
