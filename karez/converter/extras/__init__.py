"""Built-in converters."""

from karez.converter.extras.echo import Converter as EchoConverter
from karez.converter.extras.filter_and_update_meta import Converter as FilterAndUpdateMetaConverter
from karez.converter.extras.fix_timestamp import Converter as FixTimestampConverter
from karez.converter.extras.influx_json_format import Converter as InfluxJsonFormatConverter
from karez.converter.extras.influx_line_protocol import Converter as InfluxLineProtocolConverter
from karez.converter.extras.update_info import Converter as UpdateInfoConverter

PLUGINS = {
    "fix_timestamp": FixTimestampConverter,
    "update_info": UpdateInfoConverter,
    "influx_line_protocol": InfluxLineProtocolConverter,
    "influx_json_format": InfluxJsonFormatConverter,
    "filter_and_update_meta": FilterAndUpdateMetaConverter,
    "echo": EchoConverter,
}
