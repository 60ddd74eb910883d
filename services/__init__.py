"""What a user does, one function each (ingest, predict tiles, demo, queue a job, status, versions, training
set): takes a session or plain values, returns plain values. Used by the entry points (app/, cli/, worker/);
built on db/, model/ and geo/."""
