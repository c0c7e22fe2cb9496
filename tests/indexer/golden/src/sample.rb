require "json"

# Serialises records.
module Export
  # A CSV writer.
  class Writer
    def initialize(io)
      @io = io
    end

    # Write one row.
    def write_row(row)
      @io.puts(row.join(","))
    end
  end

  def self.to_json(obj)
    JSON.generate(obj)
  end
end
