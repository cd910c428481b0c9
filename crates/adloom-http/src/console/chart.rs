//! Charts for the console: a series per day, drawn by plotters as SVG on
//! the server (no script in the browser).

use plotters::prelude::*;

/// A line chart of one value per day; `labels` name the days.
pub fn daily(title: &str, labels: &[String], values: &[f64]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 220)).into_drawing_area();
        if draw(&root, title, labels, values).is_err() {
            return String::new();
        }
        let _ = root.present();
    }
    svg
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[String],
    values: &[f64],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let top = values.iter().cloned().fold(0.0f64, f64::max).max(1.0) * 1.1;
    let n = values.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(0..n, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_labels(5)
        .light_line_style(WHITE)
        .draw()?;
    let accent = RGBColor(0xb0, 0x00, 0x20);
    chart.draw_series(LineSeries::new(
        values.iter().enumerate().map(|(i, v)| (i, *v)),
        accent.stroke_width(2),
    ))?;
    chart.draw_series(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Circle::new((i, *v), 3, accent.filled())),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_an_svg_with_its_title_and_points() {
        let labels: Vec<String> = (1..=3).map(|d| format!("11-0{d}")).collect();
        let svg = super::daily("Impressions", &labels, &[3.0, 5.0, 4.0]);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Impressions"));
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}
