package lady.experiment;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.util.List;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import lady.LadyException;

/** Lady's one line-chart helper (JFreeChart, headless): series of (x, y) points to PNG bytes. */
public final class LinePlot {
    private LinePlot() {}

    /** Width and height of every plot, in pixels. */
    public static final int WIDTH = 800;
    public static final int HEIGHT = 500;
    /** Series colors, in order (matplotlib's first colors, reordered: red, blue, green, orange, purple). */
    private static final Color[] COLORS = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c),
        new Color(0xff7f0e), new Color(0x9467bd)};
    private static final float LINE_WIDTH = 2f;
    /** Dash pattern of the second axis' series. */
    private static final float[] DASH = {8f, 4f};

    /** One named curve; {@code x} and {@code y} have the same length. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new LadyException(LadyException.Kind.INTERNAL, "series '" + name + "' has " + x.length
                        + " x values but " + y.length + " y values");
            }
        }
    }

    /**
     * The chart as PNG bytes.
     *
     * @param yRange {min, max} of the value axis, or null for automatic
     * @param shapes draw a marker at every point (for a few points; off for dense curves)
     */
    public static byte[] png(String title, String xLabel, String yLabel, List<Series> series, double[] yRange,
            boolean shapes) {
        return png(title, xLabel, yLabel, series, yRange, shapes, null, List.of(), null);
    }

    /**
     * As {@link #png(String, String, String, List, double[], boolean)}, with a second value axis on the
     * right: {@code series2} (dashed, colors continuing after the first axis' series) is read on it.
     *
     * @param y2Label label of the right axis (null with no second series)
     * @param y2Range {min, max} of the right axis, or null for automatic
     */
    public static byte[] png(String title, String xLabel, String yLabel, List<Series> series, double[] yRange,
            boolean shapes, String y2Label, List<Series> series2, double[] y2Range) {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = collection(series);
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true,
                false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, shapes);
        for (int i = 0; i < series.size(); i++) {
            renderer.setSeriesPaint(i, COLORS[i % COLORS.length]);
            renderer.setSeriesStroke(i, new BasicStroke(LINE_WIDTH));
        }
        plot.setRenderer(renderer);
        if (yRange != null) {
            plot.getRangeAxis().setRange(yRange[0], yRange[1]);
        }
        if (!series2.isEmpty()) {
            XYSeriesCollection data2 = collection(series2);
            XYLineAndShapeRenderer renderer2 = new XYLineAndShapeRenderer(true, shapes);
            for (int i = 0; i < series2.size(); i++) {
                renderer2.setSeriesPaint(i, COLORS[(series.size() + i) % COLORS.length]);
                renderer2.setSeriesStroke(i, new BasicStroke(LINE_WIDTH, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
                        10f, DASH, 0f));
            }
            NumberAxis axis2 = new NumberAxis(y2Label);
            if (y2Range != null) {
                axis2.setRange(y2Range[0], y2Range[1]);
            }
            plot.setDataset(1, data2);
            plot.setRangeAxis(1, axis2);
            plot.mapDatasetToRangeAxis(1, 1);
            plot.setRenderer(1, renderer2);
        }
        try {
            return ChartUtils.encodeAsPNG(chart.createBufferedImage(WIDTH, HEIGHT));
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot encode the plot '" + title + "': " + e.getMessage(), e);
        }
    }

    private static XYSeriesCollection collection(List<Series> series) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Series s : series) {
            XYSeries xy = new XYSeries(s.name(), false, true);
            for (int i = 0; i < s.x().length; i++) {
                xy.add(s.x()[i], s.y()[i]);
            }
            data.addSeries(xy);
        }
        return data;
    }
}
