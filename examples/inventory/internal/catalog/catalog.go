// Package catalog holds the product list and formats prices for a client's language.
package catalog

import (
	"fmt"
	"sort"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// Item is one product.
type Item struct {
	SKU   string  `yaml:"sku" json:"sku"`
	Name  string  `yaml:"name" json:"name"`
	Price float64 `yaml:"price" json:"price"`
	Stock int     `yaml:"stock" json:"stock"`
}

// Catalog is the product list, sorted by SKU.
type Catalog struct {
	Items []Item `yaml:"items"`
}

// Parse reads a catalogue from YAML and checks it.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	seen := map[string]bool{}
	for _, it := range c.Items {
		if it.SKU == "" || seen[it.SKU] {
			return nil, fmt.Errorf("catalogue: missing or repeated sku %q", it.SKU)
		}
		seen[it.SKU] = true
	}
	sort.Slice(c.Items, func(i, j int) bool { return c.Items[i].SKU < c.Items[j].SKU })
	return &c, nil
}

// Find returns the item with the given SKU.
func (c *Catalog) Find(sku string) (Item, bool) {
	i := sort.Search(len(c.Items), func(i int) bool { return c.Items[i].SKU >= sku })
	if i < len(c.Items) && c.Items[i].SKU == sku {
		return c.Items[i], true
	}
	return Item{}, false
}

// Totals returns the number of units in stock and their value.
func (c *Catalog) Totals() (units int, value float64) {
	for _, it := range c.Items {
		units += it.Stock
		value += float64(it.Stock) * it.Price
	}
	return units, value
}

// Money formats an amount in euros the way the given language writes numbers,
// e.g. "1,234.50 EUR" for en and "1.234,50 EUR" for de.
func Money(lang string, amount float64) string {
	tag, err := language.Parse(lang)
	if err != nil {
		tag = language.English
	}
	return message.NewPrinter(tag).Sprintf("%.2f EUR", amount)
}
