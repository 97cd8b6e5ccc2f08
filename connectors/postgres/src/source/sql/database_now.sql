SELECT (extract(epoch FROM now()) * 1000000)::int8
