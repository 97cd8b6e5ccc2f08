// Generates Ferry's Jackson golden data: jackson_numbers.tsv in this folder is a sample of
// its number lines (the golden test of ferry-api's java_text); the crate ferry-converters'
// src/json/testdata/jackson_strings.json is its last line, without the "s\t-\t" prefix.
// Jackson serializes the same node types Kafka's JsonConverter builds, with the same
// ObjectMapper settings (JsonNodeFactory.withExactBigDecimals(true), writeValueAsBytes).
//
//   CP=/usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar
//   javac -cp $CP JavaGolden.java && java -cp $CP:. JavaGolden > out.tsv
//   FERRY_JAVA_GOLDEN=$PWD/out.tsv cargo test -p ferry-api java_text
//
// (Debian: apt-get install libjackson2-databind-java.) Produced with Jackson 2.14 on
// Temurin 25; on JDK 17 (before JDK-4511638 was fixed in 19) ~0.2% of random doubles and
// ~9% of random floats print differently (longer digit strings).
import com.fasterxml.jackson.databind.*;
import com.fasterxml.jackson.databind.node.*;
import java.math.*;
import java.util.*;

public class JavaGolden {
    public static void main(String[] a) throws Exception {
        ObjectMapper m = new ObjectMapper();
        JsonNodeFactory f = JsonNodeFactory.withExactBigDecimals(true);
        m.setNodeFactory(f);
        Random r = new Random(42);
        StringBuilder out = new StringBuilder();
        // doubles
        List<Double> ds = new ArrayList<>(Arrays.asList(0.0, -0.0, 1.0, 100.5, 1e7, 1e-4, 0.001, 9999999.0, 1e23, 2e-3, 5e-324, Double.MIN_NORMAL, Double.MAX_VALUE, 1e21, 1e22, 123456789.0, 0.1+0.2, 4.35, 2.0E-44, 1.0E-322, 9.9E-324, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY));
        for (int i = 0; i < 200000; i++) ds.add(Double.longBitsToDouble(r.nextLong()));
        for (int i = 0; i < 100000; i++) ds.add((double) (r.nextInt(2000000) - 1000000) / Math.pow(10, r.nextInt(12)));
        for (int i = 0; i < 20000; i++) ds.add(Double.longBitsToDouble(r.nextInt(1 << 20)));
        for (double d : ds) {
            if (Double.isNaN(d) && Double.doubleToRawLongBits(d) != Double.doubleToRawLongBits(Double.NaN)) continue;
            out.append("d\t").append(Long.toHexString(Double.doubleToRawLongBits(d))).append('\t')
               .append(new String(m.writeValueAsBytes(f.numberNode(d)), "UTF-8")).append('\n');
        }
        List<Float> fs = new ArrayList<>(Arrays.asList(0f, -0f, 1f, 12.34f, 0.1f, 1e10f, Float.MAX_VALUE, Float.MIN_NORMAL, Float.MIN_VALUE, 3.4e-3f, 16777216f, Float.NaN, Float.POSITIVE_INFINITY));
        for (int i = 0; i < 100000; i++) fs.add(Float.intBitsToFloat(r.nextInt()));
        for (int i = 0; i < 20000; i++) fs.add(Float.intBitsToFloat(r.nextInt(1 << 16)));
        for (float x : fs) {
            if (Float.isNaN(x) && Float.floatToRawIntBits(x) != Float.floatToRawIntBits(Float.NaN)) continue;
            out.append("f\t").append(Integer.toHexString(Float.floatToRawIntBits(x))).append('\t')
               .append(new String(m.writeValueAsBytes(f.numberNode(x)), "UTF-8")).append('\n');
        }
        for (String s : new String[]{"1.56", "1.5600", "1E-8", "1E+3", "-0.001", "1.23456789123456789", "0.00000", "0E-20", "12345678901234567890.123", "-1E+10", "100"}) {
            out.append("b\t").append(s).append('\t').append(new String(m.writeValueAsBytes(f.numberNode(new BigDecimal(s))), "UTF-8")).append('\n');
        }
        StringBuilder all = new StringBuilder();
        for (char c = 0; c < 0x80; c++) all.append(c);
        all.append("é✓😀\u2028\u2029\u00a0\uffff");
        ObjectNode env = f.objectNode();
        env.set("schema", null);
        env.set("payload", f.textNode(all.toString()));
        env.set("b", f.binaryNode(new byte[]{(byte)0xde,(byte)0xad,(byte)0xbe,(byte)0xef, (byte)0xfb, (byte)0xff}));
        ArrayNode arr = f.arrayNode(); arr.add((JsonNode) null); arr.add(f.numberNode(Float.NaN));
        env.set("arr", arr);
        out.append("s\t-\t").append(new String(m.writeValueAsBytes(env), "UTF-8").replace("\n", "<NL>").replace("\t", "<TAB>")).append('\n');
        System.out.print(out);
    }
}
